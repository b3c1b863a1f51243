`timescale 1ns / 1ps
// Joins two pixel streams beat by beat: an element-wise sum (Keras Add, ADD = 1) or a per-pixel
// concatenation of channels (Keras Concatenate on the channel axis, ADD = 0).
//
// A beat carries P pixels; pixel j of input a holds A_C elements of A_W bits at
// s0_axis_tdata[(j*A_C + c)*A_W +: A_W], input b likewise (B_C, B_W). Every element is first aligned
// to the output format: sign- (A_SIGNED) or zero-extended, then shifted left by A_SHIFT (the output's
// fraction bits minus the input's), so codes of different fraction widths meet on one grid. The
// output pixel j is the sum (A_C = B_C elements) or a's elements then b's (A_C + B_C), OUT_W bits
// each. The Python descriptor (hardware/join) checks that OUT_W holds every aligned value and every
// sum, so taking the low OUT_W bits is exact.
//
// Handshake: a beat moves when both inputs are valid and the output register is free or leaves this
// cycle; each input's tready waits for the other's tvalid, so neither is taken alone. m_axis_tvalid
// is a register (never follows a tready); one beat per cycle; latency one cycle. tlast is input a's
// (both inputs carry the same frame). Reset is synchronous and active high.
module stream_join #(
    parameter integer ADD = 1,
    parameter integer P = 1,
    parameter integer A_C = 1,
    parameter integer A_W = 8,
    parameter integer A_SIGNED = 1,
    parameter integer A_SHIFT = 0,
    parameter integer B_C = 1,
    parameter integer B_W = 8,
    parameter integer B_SIGNED = 1,
    parameter integer B_SHIFT = 0,
    parameter integer OUT_W = 9
) (
    input clk,
    input rst,
    input [P*A_C*A_W-1:0] s0_axis_tdata,
    input s0_axis_tvalid,
    output s0_axis_tready,
    input s0_axis_tlast,
    input [P*B_C*B_W-1:0] s1_axis_tdata,
    input s1_axis_tvalid,
    output s1_axis_tready,
    // both inputs carry the same frame: input a's tlast is the output's
    // verilator lint_off UNUSEDSIGNAL
    input s1_axis_tlast,
    // verilator lint_on UNUSEDSIGNAL
    output [P*((ADD != 0) ? A_C : A_C + B_C)*OUT_W-1:0] m_axis_tdata,
    output m_axis_tvalid,
    input m_axis_tready,
    output m_axis_tlast
);
    localparam integer OUT_C = (ADD != 0) ? A_C : A_C + B_C;
    localparam integer EXT_W = OUT_W + 2;  // room for any extension; only the low OUT_W bits are kept

    reg valid_q;
    reg last_q;
    reg [P*OUT_C*OUT_W-1:0] data_q;
    wire free = !valid_q || m_axis_tready;
    assign s0_axis_tready = !rst && free && s1_axis_tvalid;
    assign s1_axis_tready = !rst && free && s0_axis_tvalid;
    wire take = s0_axis_tvalid && s1_axis_tvalid && free && !rst;

    wire [P*OUT_C*OUT_W-1:0] joined;
    genvar j, c;
    generate
        for (j = 0; j < P; j = j + 1) begin : g_pixel
            for (c = 0; c < A_C; c = c + 1) begin : g_a
                wire [A_W-1:0] a = s0_axis_tdata[(j*A_C + c)*A_W +: A_W];
                wire [EXT_W-1:0] a_ext = {{(EXT_W - A_W){A_SIGNED != 0 && a[A_W-1]}}, a};
                // bits above OUT_W are sign copies of an in-range value
                // verilator lint_off UNUSEDSIGNAL
                wire [EXT_W-1:0] a_al = a_ext << A_SHIFT;
                // verilator lint_on UNUSEDSIGNAL
                if (ADD != 0) begin : g_sum
                    wire [B_W-1:0] b = s1_axis_tdata[(j*B_C + c)*B_W +: B_W];
                    wire [EXT_W-1:0] b_ext = {{(EXT_W - B_W){B_SIGNED != 0 && b[B_W-1]}}, b};
                    // verilator lint_off UNUSEDSIGNAL
                    wire [EXT_W-1:0] sum = a_al + (b_ext << B_SHIFT);
                    // verilator lint_on UNUSEDSIGNAL
                    assign joined[(j*OUT_C + c)*OUT_W +: OUT_W] = sum[OUT_W-1:0];
                end else begin : g_first
                    assign joined[(j*OUT_C + c)*OUT_W +: OUT_W] = a_al[OUT_W-1:0];
                end
            end
            if (ADD == 0) begin : g_cat
                for (c = 0; c < B_C; c = c + 1) begin : g_b
                    wire [B_W-1:0] b = s1_axis_tdata[(j*B_C + c)*B_W +: B_W];
                    wire [EXT_W-1:0] b_ext = {{(EXT_W - B_W){B_SIGNED != 0 && b[B_W-1]}}, b};
                    // verilator lint_off UNUSEDSIGNAL
                    wire [EXT_W-1:0] b_al = b_ext << B_SHIFT;
                    // verilator lint_on UNUSEDSIGNAL
                    assign joined[(j*OUT_C + A_C + c)*OUT_W +: OUT_W] = b_al[OUT_W-1:0];
                end
            end
        end
    endgenerate

    always @(posedge clk) begin
        if (take) begin
            data_q <= joined;
            last_q <= s0_axis_tlast;
        end
    end

    always @(posedge clk) begin
        if (rst) valid_q <= 1'b0;
        else if (take) valid_q <= 1'b1;
        else if (m_axis_tready) valid_q <= 1'b0;
    end

    assign m_axis_tdata = data_q;
    assign m_axis_tvalid = valid_q;
    assign m_axis_tlast = last_q;
endmodule
