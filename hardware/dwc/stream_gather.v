`timescale 1ns / 1ps
// Width converter up: gathers N beats of W bits into one beat of N*W bits.
//
// Piece j of a group (the j-th input beat) lands at m_axis_tdata[j*W +: W],
// so beat 0 sits in the low bits, and m_axis_tlast is the tlast of the
// group's last input beat. m_axis_tkeep has one bit per W-bit piece (a byte
// lane when W = 8, as an AXI DMA expects).
//   ALIGNED = 0: a group ends after N beats or at a beat with tlast, so every
//     frame starts in piece 0 of a fresh output beat; a frame whose length is
//     not a multiple of N ends in a short beat whose tkeep marks the pieces
//     present (the missing high pieces are zero).
//   ALIGNED = 1: every group is exactly N beats and tkeep is all ones; a tlast
//     inside a group is an error: it sets error (sticky until reset) and does
//     not end the group (nor appear on m_axis_tlast).
// Pieces 0..N-2 wait in an accumulator and the finished beat in an output
// register, so one beat is taken per cycle and one output beat leaves every
// N cycles when m_axis is ready. m_axis_tvalid comes from a register;
// s_axis_tready is high when the output register is free or being read this
// cycle (a combinational path from m_axis_tready, as in a register slice).
// Reset is synchronous and active high.
module stream_gather #(
    parameter integer W = 8,
    parameter integer N = 4,
    parameter integer ALIGNED = 0
) (
    input clk,
    input rst,
    input [W-1:0] s_axis_tdata,
    input s_axis_tlast,
    input s_axis_tvalid,
    output s_axis_tready,
    output [N*W-1:0] m_axis_tdata,
    output [N-1:0] m_axis_tkeep,
    output m_axis_tlast,
    output m_axis_tvalid,
    input m_axis_tready,
    output error
);
    localparam integer CW = $clog2(N);
    localparam integer LAST_PIECE = N - 1;

    reg [(N-1)*W-1:0] acc;  // pieces 0..N-2 of the group being gathered
    reg [CW-1:0] count;     // pieces gathered so far
    reg [N*W-1:0] out_q;
    reg [N-1:0] out_keep;
    reg out_last;
    reg out_valid;
    reg error_q;

    assign s_axis_tready = !rst && (!out_valid || m_axis_tready);
    wire accept = s_axis_tvalid && s_axis_tready;
    wire full_group = count == LAST_PIECE[CW-1:0];
    wire closes = full_group || (ALIGNED == 0 && s_axis_tlast);

    // the finished beat if this input beat closes the group: gathered pieces, this one, zeros above
    wire [N*W-1:0] gathered;
    wire [N-1:0] present;
    genvar j;
    generate
        for (j = 0; j < N; j = j + 1) begin : g_piece
            localparam [CW-1:0] INDEX = j;
            if (j < N - 1) begin : g_acc
                assign gathered[j*W +: W] = INDEX < count ? acc[j*W +: W]
                                          : INDEX == count ? s_axis_tdata : {W{1'b0}};
            end else begin : g_top
                assign gathered[j*W +: W] = INDEX == count ? s_axis_tdata : {W{1'b0}};
            end
            if (j == 0) begin : g_first
                assign present[j] = 1'b1;
            end else begin : g_later
                assign present[j] = INDEX <= count;
            end
        end
    endgenerate

    always @(posedge clk) begin
        if (accept && !closes) acc[count*W +: W] <= s_axis_tdata;
        if (accept && closes) begin
            out_q <= gathered;
            out_keep <= present;
            out_last <= s_axis_tlast;  // the closing beat's tlast
        end
    end

    always @(posedge clk) begin
        if (rst) begin
            count <= {CW{1'b0}};
            out_valid <= 1'b0;
            error_q <= 1'b0;
        end else begin
            if (accept) count <= closes ? {CW{1'b0}} : count + 1'b1;
            if (accept && closes) out_valid <= 1'b1;
            else if (m_axis_tready) out_valid <= 1'b0;
            if (ALIGNED != 0 && accept && s_axis_tlast && !full_group) error_q <= 1'b1;
        end
    end

    assign m_axis_tdata = out_q;
    assign m_axis_tkeep = out_keep;
    assign m_axis_tlast = out_last;
    assign m_axis_tvalid = out_valid;
    assign error = error_q;
endmodule
