`timescale 1ns / 1ps
// Testbench stream source (simulation only): plays the beats of a $readmemh file, one {tlast, tdata}
// word per line, onto a valid/ready port. Between beats it idles with probability IDLE_PERMILLE/1000
// (a seeded LFSR), never inside a handshake: once tvalid is up it stays up until the beat moves. The
// cycle each frame's first beat is accepted goes to the log file, one decimal number per line.
// Driving the port from HDL keeps millions of beats off cocotb's Python scheduler.
module tb_stream_source #(
    parameter integer W = 8,
    parameter integer BEATS = 1,
    parameter FILE = "beats.hex",
    parameter LOG = "accepted.log",
    parameter integer IDLE_PERMILLE = 0,
    parameter integer SEED = 1
) (
    input clk,
    input rst,
    input [63:0] cycle,
    input flush,                                 // write the log out (before Python reads it)
    output [W-1:0] tdata,
    output tvalid,
    input tready,
    output tlast,
    output done
);
    reg [W:0] mem [0:BEATS-1];
    integer fd;
    initial begin
        $readmemh(FILE, mem);
        fd = $fopen(LOG, "w");
    end

    reg [31:0] idx;
    reg [31:0] lfsr;
    reg valid_r;
    reg first;                                   // the next beat opens a frame
    wire [31:0] lfsr_next = {1'b0, lfsr[31:1]} ^ (lfsr[0] ? 32'hD000_0001 : 32'd0);
    wire idle = (lfsr % 32'd1000) < IDLE_PERMILLE;
    wire [W:0] word = mem[idx < BEATS ? idx : 0];

    assign tvalid = valid_r;
    assign tdata = word[W-1:0];
    assign tlast = word[W];
    assign done = idx == BEATS;

    always @(posedge clk) begin
        if (rst) begin
            idx <= 0;
            valid_r <= 1'b0;
            first <= 1'b1;
            lfsr <= SEED == 0 ? 32'd1 : SEED;
        end else begin
            lfsr <= lfsr_next;
            if (valid_r && tready) begin
                if (first) $fwrite(fd, "%0d\n", cycle);
                first <= tlast;
                idx <= idx + 1;
                valid_r <= idx + 1 < BEATS && !idle;
            end else if (!valid_r) begin
                valid_r <= idx < BEATS && !idle;
            end
        end
    end

    always @(posedge clk) if (flush) $fflush(fd);
    final $fclose(fd);
endmodule
