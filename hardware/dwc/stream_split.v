`timescale 1ns / 1ps
// Width converter down: splits one beat of N*W bits into N beats of W bits.
//
// Piece j (s_axis_tdata[j*W +: W]) leaves as the j-th output beat, low bits
// first; m_axis_tlast is high on the beat's last piece when the input beat had
// tlast. s_axis_tkeep has one bit per piece and must be contiguous from piece
// 0: a beat ends at its last kept piece, so the short last beat of a frame
// (stream_gather, or an AXI DMA with W = 8) gives back exactly its pieces.
// Piece 0 is always sent; tie s_axis_tkeep high when unused.
// The input beat waits in a register and its pieces leave one per cycle, so a
// full beat takes N cycles; the next beat is taken in the cycle the last
// piece leaves. m_axis_tvalid comes from a register; s_axis_tready is high
// when the register is empty or its last piece leaves this cycle (a
// combinational path from m_axis_tready, as in a register slice).
// Reset is synchronous and active high.
module stream_split #(
    parameter integer W = 8,
    parameter integer N = 4
) (
    input clk,
    input rst,
    input [N*W-1:0] s_axis_tdata,
    // verilator lint_off UNUSEDSIGNAL
    input [N-1:0] s_axis_tkeep,  // full AXI width; bit 0 is implied (piece 0 is always sent)
    // verilator lint_on UNUSEDSIGNAL
    input s_axis_tlast,
    input s_axis_tvalid,
    output s_axis_tready,
    output [W-1:0] m_axis_tdata,
    output m_axis_tlast,
    output m_axis_tvalid,
    input m_axis_tready
);
    localparam integer CW = $clog2(N);

    reg [N*W-1:0] beat_q;
    reg [N-1:1] keep_q;  // piece 0 is always sent
    reg last_q;
    reg valid_q;
    reg [CW-1:0] piece;  // index of the piece on m_axis

    // piece j is the beat's last if piece j + 1 is not kept
    wire [N-1:0] ends_here = ~{1'b0, keep_q};
    wire last_piece = ends_here[piece];
    wire send = valid_q && m_axis_tready;
    assign s_axis_tready = !rst && (!valid_q || (m_axis_tready && last_piece));
    wire accept = s_axis_tvalid && s_axis_tready;

    always @(posedge clk) begin
        if (accept) begin
            beat_q <= s_axis_tdata;
            keep_q <= s_axis_tkeep[N-1:1];
            last_q <= s_axis_tlast;
        end
    end

    always @(posedge clk) begin
        if (rst) begin
            valid_q <= 1'b0;
            piece <= {CW{1'b0}};
        end else begin
            if (accept) valid_q <= 1'b1;
            else if (send && last_piece) valid_q <= 1'b0;
            if (send) piece <= last_piece ? {CW{1'b0}} : piece + 1'b1;
        end
    end

    assign m_axis_tdata = beat_q[piece*W +: W];
    assign m_axis_tlast = last_q && last_piece;
    assign m_axis_tvalid = valid_q;
endmodule
