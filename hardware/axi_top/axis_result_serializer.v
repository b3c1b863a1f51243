`timescale 1ns / 1ps
// One result per output beat from the pipeline's multi-lane result beats.
//
// s_data: LANES lanes of LANE_W bits, lane i at [i*LANE_W +: LANE_W], its valid bit the lane's top
// bit (hardware/pipeline's u_out layout). A beat is held while any of its valid lanes is still to
// leave; lanes leave lowest first, one per cycle, as m_data = the lane without its valid bit. The
// next beat is taken in the cycle the held beat's last lane leaves (no bubble). m_valid comes
// from registers only; s_ready may follow m_ready combinationally.
module axis_result_serializer #(
    parameter integer LANES = 1,
    parameter integer LANE_W = 8
) (
    input clk,
    input rst,
    input [LANES*LANE_W-1:0] s_data,
    input s_valid,
    output s_ready,
    output reg [LANE_W-2:0] m_data,
    output m_valid,
    input m_ready,
    output [LANES-1:0] pending          // lanes of the held beat still to leave
);
    reg [LANES*LANE_W-1:0] held;
    reg [LANES-1:0] todo;
    wire [LANES-1:0] lowest = todo & (~todo + 1'b1);   // one-hot: the lowest lane still to leave
    wire take = m_valid && m_ready;
    wire [LANES-1:0] todo_after = take ? todo & ~lowest : todo;
    reg [LANES-1:0] incoming;

    assign m_valid = |todo;
    assign s_ready = todo_after == {LANES{1'b0}};
    assign pending = todo;

    integer i;
    always @* begin
        m_data = {(LANE_W - 1){1'b0}};
        for (i = 0; i < LANES; i = i + 1) begin
            if (lowest[i]) m_data = m_data | held[i*LANE_W +: LANE_W - 1];
            incoming[i] = s_data[i*LANE_W + LANE_W - 1];
        end
    end

    always @(posedge clk) begin
        if (rst) begin
            todo <= {LANES{1'b0}};
        end else if (s_valid && s_ready) begin
            todo <= incoming;
        end else begin
            todo <= todo_after;
        end
        if (s_valid && s_ready) held <= s_data;
    end
endmodule
