`timescale 1ns / 1ps
// Testbench stream sink (simulation only): takes beats with random back-pressure (tready low with
// probability stall_permille/1000, a seeded LFSR) and logs every beat as one line
// "<cycle tvalid first rose> <cycle accepted> <tlast> <tdata hex>" to +<NAME>_log=. `frames` adds
// `count` for every beat taken: tlast for a framed port, 1 per beat without tlast, the number of
// valid result lanes for the pipeline's output.
module tb_stream_sink #(
    parameter integer W = 8,
    parameter NAME = "m_axis"
) (
    input clk,
    input rst,
    input [63:0] cycle,
    input flush,                                 // write the log out (before Python reads it)
    input [9:0] stall_permille,
    input [31:0] seed,
    input [W-1:0] tdata,
    input tvalid,
    output tready,
    input tlast,
    input [7:0] count,
    output reg [31:0] frames
);
    reg [8*512-1:0] path;
    integer fd;
    initial begin
        if (!$value$plusargs({NAME, "_log=%s"}, path)) path = "sink.log";
        fd = $fopen(path, "w");
    end

    reg [31:0] lfsr;
    reg ready_r;
    reg waiting;                                 // tvalid is up and the beat has not moved yet
    reg [63:0] since;
    wire [31:0] lfsr_next = {1'b0, lfsr[31:1]} ^ (lfsr[0] ? 32'hD000_0001 : 32'd0);
    wire [63:0] first_valid = waiting ? since : cycle;

    assign tready = ready_r;

    always @(posedge clk) begin
        if (rst) begin
            lfsr <= seed == 0 ? 32'd7 : seed;
            ready_r <= 1'b0;
            waiting <= 1'b0;
            frames <= 0;
        end else begin
            lfsr <= lfsr_next;
            ready_r <= (lfsr % 32'd1000) >= {22'd0, stall_permille};
            if (tvalid && tready) begin
                $fwrite(fd, "%0d %0d %0d %h\n", first_valid, cycle, tlast, tdata);
                frames <= frames + {24'd0, count};
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
