`timescale 1ns / 1ps
// Per-channel sum over a whole frame (GlobalAveragePooling2D): BEATS beats of P pixels of C elements
// in, one beat of C sums out per frame.
//
// Element (pixel j, channel c) of an input beat is s_axis_tdata[(j*C + c)*W +: W], sign-extended
// when SIGNED; output channel c is m_axis_tdata[c*OUT_W +: OUT_W], the sum of that channel over the
// frame's P*BEATS pixels. With a power-of-two pixel count that sum's code IS the code of the exact
// mean in a format with log2(pixels) more fraction bits, so no shift is needed. OUT_W must hold
// every sum (the Python descriptor checks W + log2(pixels) <= OUT_W).
//
// Frames are counted in beats (the input's tlast is not needed). One beat per cycle; the frame's
// sums move to the output register with its last beat, so the next frame accumulates while they
// wait; only a second frame's last beat waits for the output to be taken. m_axis_tvalid is a
// register; tlast is high on every output beat (one beat per frame). Synchronous active-high reset.
module stream_global_sum #(
    parameter integer C = 2,
    parameter integer P = 1,
    parameter integer W = 8,
    parameter integer SIGNED = 1,
    parameter integer BEATS = 16,
    parameter integer OUT_W = 12
) (
    input clk,
    input rst,
    input [P*C*W-1:0] s_axis_tdata,
    input s_axis_tvalid,
    output s_axis_tready,
    // frames are counted in beats
    // verilator lint_off UNUSEDSIGNAL
    input s_axis_tlast,
    // verilator lint_on UNUSEDSIGNAL
    output [C*OUT_W-1:0] m_axis_tdata,
    output m_axis_tvalid,
    input m_axis_tready,
    output m_axis_tlast
);
    localparam integer CNT_W = BEATS > 1 ? $clog2(BEATS) : 1;
    localparam integer LAST_BEAT_I = BEATS - 1;
    localparam [CNT_W-1:0] LAST_BEAT = LAST_BEAT_I[CNT_W-1:0];

    reg [CNT_W-1:0] count;
    reg [C*OUT_W-1:0] acc;
    reg [C*OUT_W-1:0] sums_q;
    reg valid_q;
    wire last_beat = count == LAST_BEAT;
    assign s_axis_tready = !rst && (!last_beat || !valid_q || m_axis_tready);
    wire accept = s_axis_tvalid && s_axis_tready;

    wire [C*OUT_W-1:0] next;  // acc plus this beat's pixels, per channel
    genvar c, j;
    generate
        for (c = 0; c < C; c = c + 1) begin : g_channel
            wire [(P+1)*OUT_W-1:0] chain;  // running sum over the beat's pixels
            assign chain[OUT_W-1:0] = acc[c*OUT_W +: OUT_W];
            for (j = 0; j < P; j = j + 1) begin : g_pixel
                wire [W-1:0] x = s_axis_tdata[(j*C + c)*W +: W];
                wire [OUT_W-1:0] x_ext = {{(OUT_W - W){SIGNED != 0 && x[W-1]}}, x};
                assign chain[(j+1)*OUT_W +: OUT_W] = chain[j*OUT_W +: OUT_W] + x_ext;
            end
            assign next[c*OUT_W +: OUT_W] = chain[P*OUT_W +: OUT_W];
        end
    endgenerate

    always @(posedge clk) begin
        if (rst) begin
            count <= {CNT_W{1'b0}};
            acc <= {C*OUT_W{1'b0}};
            valid_q <= 1'b0;
        end else begin
            if (accept) begin
                if (last_beat) begin
                    count <= {CNT_W{1'b0}};
                    acc <= {C*OUT_W{1'b0}};
                end else begin
                    count <= count + 1'b1;
                    acc <= next;
                end
            end
            if (accept && last_beat) valid_q <= 1'b1;
            else if (m_axis_tready) valid_q <= 1'b0;
        end
    end

    always @(posedge clk) begin
        if (accept && last_beat) sums_q <= next;
    end

    assign m_axis_tdata = sums_q;
    assign m_axis_tvalid = valid_q;
    assign m_axis_tlast = 1'b1;
endmodule
