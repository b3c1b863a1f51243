`timescale 1ns / 1ps
// Testbench stream sink (simulation only): takes beats with random back-pressure (tready low with
// probability STALL_PERMILLE/1000, a seeded LFSR) and logs every beat as one line
// "<cycle tvalid first rose> <cycle accepted> <tlast> <tdata hex>"; `frames` counts tlast beats
// (or every beat when the port has no tlast: tie it high).
module tb_stream_sink #(
    parameter integer W = 8,
    parameter LOG = "beats.log",
    parameter integer STALL_PERMILLE = 0,
    parameter integer SEED = 7
) (
    input clk,
    input rst,
    input [63:0] cycle,
    input flush,                                 // write the log out (before Python reads it)
    input [W-1:0] tdata,
    input tvalid,
    output tready,
    input tlast,
    output reg [31:0] frames
);
    integer fd;
    initial fd = $fopen(LOG, "w");

    reg [31:0] lfsr;
    reg ready_r;
    reg waiting;                                 // tvalid is up and the beat has not moved yet
    reg [63:0] since;
    wire [31:0] lfsr_next = {1'b0, lfsr[31:1]} ^ (lfsr[0] ? 32'hD000_0001 : 32'd0);
    wire [63:0] first_valid = waiting ? since : cycle;

    assign tready = ready_r;

    always @(posedge clk) begin
        if (rst) begin
            lfsr <= SEED == 0 ? 32'd1 : SEED;
            ready_r <= 1'b0;
            waiting <= 1'b0;
            frames <= 0;
        end else begin
            lfsr <= lfsr_next;
            ready_r <= (lfsr % 32'd1000) >= STALL_PERMILLE;
            if (tvalid && tready) begin
                $fwrite(fd, "%0d %0d %0d %h\n", first_valid, cycle, tlast, tdata);
                if (tlast) frames <= frames + 1;
                waiting <= 1'b0;
            end else if (tvalid && !waiting) begin
                waiting <= 1'b1;
                since <= cycle;
            end
        end
    end

    always @(posedge clk) if (flush) $fflush(fd);
    final $fclose(fd);
endmodule
