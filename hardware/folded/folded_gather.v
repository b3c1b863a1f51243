`timescale 1ns / 1ps
// Gathers the P-pixel beats of a folded conv (raster order, tlast on a frame's
// last beat) into one whole-tensor word for the fully parallel rest of the stage.
//
// Beat b of a frame lands at bits [b*BEAT_W +: BEAT_W] of a frame buffer of
// STEPS*BEAT_W bits; the first FRAME_W bits are the output (pixels past the
// frame's end in the last beat are dropped). The finished frame sits in an
// output register, so the next frame's beats are accepted while it waits;
// a new frame's last beat is taken only once the previous frame has left.
// Reset is synchronous and active high.
module folded_gather #(
    parameter integer BEAT_W = 8,
    parameter integer STEPS = 1,
    parameter integer FRAME_W = 8
) (
    input clk,
    input rst,
    input [BEAT_W-1:0] s_data,
    input s_last,
    input s_valid,
    output s_ready,
    output [FRAME_W-1:0] m_data,
    output m_valid,
    input m_ready
);
    localparam integer BUF_W = STEPS * BEAT_W;

    reg [FRAME_W-1:0] out_r;
    reg out_valid;
    // verilator lint_off UNUSEDSIGNAL
    reg [BUF_W-1:0] buffer;  // its lowest beat is shifted out unread
    wire [BUF_W-1:0] filled;  // pixels past the frame's end are dropped
    // verilator lint_on UNUSEDSIGNAL

    wire out_free = !out_valid || m_ready;
    assign s_ready = !rst && (!s_last || out_free);
    wire s_fire = s_valid && s_ready;
    assign m_valid = out_valid;
    assign m_data = out_r;

    generate
        if (STEPS == 1) begin : g_one
            assign filled = s_data;
        end else begin : g_many
            assign filled = {s_data, buffer[BUF_W-1:BEAT_W]};
        end
    endgenerate

    always @(posedge clk) begin
        // beats shift in from the top, so after STEPS beats beat 0 sits at bit 0
        if (s_fire) buffer <= filled;
        if (s_fire && s_last) out_r <= filled[FRAME_W-1:0];
    end

    always @(posedge clk) begin
        if (rst) out_valid <= 1'b0;
        else if (s_fire && s_last) out_valid <= 1'b1;
        else if (m_ready) out_valid <= 1'b0;
    end
endmodule
