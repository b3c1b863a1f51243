`timescale 1ns / 1ps
// Testbench stream source (simulation only): plays the beats of a $readmemh file, one {tlast, tdata}
// word per line, onto a valid/ready port. The file, its beat count and the log are plusargs
// (+<NAME>_file=, +<NAME>_beats=, +<NAME>_log=), so one simulator build serves many runs. Between beats
// it idles with probability idle_permille/1000 (a seeded LFSR), never inside a handshake: once tvalid
// is up it stays up until the beat moves. The cycle each frame's first beat is accepted goes to the
// log, one decimal number per line; with +<NAME>_idle_log= also every cycle in which the design was
// ready for a beat and the source had none to give (its idle cycles, not the design's).
// Driving ports from HDL keeps millions of beats off cocotb's Python.
module tb_stream_source #(
    parameter integer W = 8,
    parameter integer MAX_BEATS = 1,
    parameter NAME = "s_axis"
) (
    input clk,
    input rst,
    input [63:0] cycle,
    input flush,                                 // write the log out (before Python reads it)
    input [9:0] idle_permille,
    input [31:0] seed,
    output [W-1:0] tdata,
    output tvalid,
    input tready,
    output tlast,
    output done
);
    reg [W:0] mem [0:MAX_BEATS-1];
    reg [8*512-1:0] path;
    integer fd, idle_fd, beats;
    initial begin
        beats = 0;
        if ($value$plusargs({NAME, "_file=%s"}, path)) $readmemh(path, mem);
        if (!$value$plusargs({NAME, "_beats=%d"}, beats)) beats = 0;
        if (beats > MAX_BEATS) begin
            $display("tb_stream_source %s: %0d beats exceed MAX_BEATS %0d", NAME, beats, MAX_BEATS);
            $finish;
        end
        if (!$value$plusargs({NAME, "_log=%s"}, path)) path = "source.log";
        fd = $fopen(path, "w");
        idle_fd = 0;
        if ($value$plusargs({NAME, "_idle_log=%s"}, path)) idle_fd = $fopen(path, "w");
    end

    reg [31:0] idx;
    reg [31:0] lfsr;
    reg valid_r;
    reg first;                                   // the next beat opens a frame
    wire [31:0] lfsr_next = {1'b0, lfsr[31:1]} ^ (lfsr[0] ? 32'hD000_0001 : 32'd0);
    wire idle = (lfsr % 32'd1000) < {22'd0, idle_permille};
    wire more = idx < beats;
    wire [W:0] word = mem[more ? idx : 0];

    assign tvalid = valid_r;
    assign tdata = word[W-1:0];
    assign tlast = word[W];
    assign done = !more;

    always @(posedge clk) begin
        if (rst) begin
            idx <= 0;
            valid_r <= 1'b0;
            first <= 1'b1;
            lfsr <= seed == 0 ? 32'd1 : seed;
        end else begin
            lfsr <= lfsr_next;
            if (!valid_r && tready && more && idle_fd != 0) $fwrite(idle_fd, "%0d\n", cycle);
            if (valid_r && tready) begin
                if (first) $fwrite(fd, "%0d\n", cycle);
                first <= tlast;
                idx <= idx + 1;
                valid_r <= idx + 1 < beats && !idle;
            end else if (!valid_r) begin
                valid_r <= more && !idle;
            end
        end
    end

    always @(posedge clk) if (flush) begin
        $fflush(fd);
        if (idle_fd != 0) $fflush(idle_fd);
    end
    final begin
        $fclose(fd);
        if (idle_fd != 0) $fclose(idle_fd);
    end
endmodule
