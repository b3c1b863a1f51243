`timescale 1ns / 1ps
// Window sequencer of a folded (streaming) convolution core.
//
// Takes one input frame per s-beat (the whole tensor, project packing) into a
// frame register, then walks STEPS window steps, one per accepted w-beat; step
// s selects output pixels s*P .. s*P+P-1 (raster order) in the generated window
// mux. The next frame is accepted in the cycle the last step is accepted, so
// back to back frames take exactly STEPS cycles each (II = ceil(pixels / P)).
// Reset is synchronous and active high.
module folded_sequencer #(
    parameter integer FRAME_W = 8,
    parameter integer STEPS = 1,
    parameter integer STEP_W = 1  // >= $clog2(STEPS), at least 1 (the generator passes it)
) (
    input clk,
    input rst,
    input [FRAME_W-1:0] s_data,
    input s_valid,
    output s_ready,
    output [FRAME_W-1:0] frame,
    output [STEP_W-1:0] step,
    output last,
    output w_valid,
    input w_ready
);
    localparam integer LAST_INDEX = STEPS - 1;
    localparam [STEP_W-1:0] LAST_STEP = LAST_INDEX[STEP_W-1:0];

    reg busy;
    reg [FRAME_W-1:0] frame_r;
    reg [STEP_W-1:0] step_r;

    wire w_fire = w_valid && w_ready;
    wire done = w_fire && last;
    wire s_fire = s_valid && s_ready;

    assign last = step_r == LAST_STEP;
    assign s_ready = !rst && (!busy || done);
    assign w_valid = busy;
    assign frame = frame_r;
    assign step = step_r;

    always @(posedge clk) begin
        if (s_fire) frame_r <= s_data;
    end

    always @(posedge clk) begin
        if (rst) begin
            busy <= 1'b0;
            step_r <= {STEP_W{1'b0}};
        end else begin
            if (w_fire) step_r <= last ? {STEP_W{1'b0}} : step_r + 1'b1;
            if (s_fire) busy <= 1'b1;
            else if (done) busy <= 1'b0;
        end
    end
endmodule
