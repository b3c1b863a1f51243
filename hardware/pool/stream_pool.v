`timescale 1ns / 1ps
// Non-overlapping K x K max pooling (stride K, 'valid', IN_W a multiple of P and P of K) on a pixel
// stream of P pixels per beat: the pooled stream carries P/K pixels per beat.
//
// Pixel j of a beat, channel c, at s_axis_tdata[(j*C + c)*B +: B] (hardware/README.md), raster order,
// tlast on the frame's last beat. Each beat's K neighbouring pixels are reduced at once (per channel);
// the running maximum of the K rows of a pooling group waits in a row of IN_W/P words, one per beat
// position, so the first K-1 rows of a group only update that row and the last row's beats leave as
// pooled beats. One input beat per cycle: a frame takes IN_H*IN_W/P cycles, an output beat leaves
// on every K-th row's beats. tlast ends the frame (the counters restart on it).
// Reset is synchronous and active high; m_axis_tvalid comes from a register; s_axis_tready is
// combinational from m_axis_tready (a register slice).
module stream_pool #(
    parameter integer IN_W = 24,
    parameter integer C = 6,
    parameter integer B = 4,
    parameter integer K = 2,
    parameter integer P = 2,
    parameter integer SIGNED = 0
) (
    input clk,
    input rst,
    input [P*C*B-1:0] s_axis_tdata,
    input s_axis_tvalid,
    output s_axis_tready,
    input s_axis_tlast,
    output [(P/K)*C*B-1:0] m_axis_tdata,
    output m_axis_tvalid,
    input m_axis_tready,
    output m_axis_tlast
);
    localparam integer Q = P / K;                 // pooled pixels per beat
    localparam integer OW = Q * C * B;
    localparam integer BPR = IN_W / P;            // beats per input row
    localparam integer CW = BPR > 1 ? $clog2(BPR) : 1;
    localparam integer RW = $clog2(K);
    // verilator lint_off WIDTHTRUNC
    // (constants below 2**CW and 2**RW, cut to their counters' widths)
    localparam [CW-1:0] LAST_COL = BPR - 1;
    localparam [RW-1:0] LAST_ROW = K - 1;
    // verilator lint_on WIDTHTRUNC

    reg [OW-1:0] group [0:BPR-1];   // max over the group's rows so far, per beat position of a row
    reg [CW-1:0] col;
    reg [RW-1:0] row;
    reg [OW-1:0] out_data;
    reg out_valid, out_last;

    wire emit = row == LAST_ROW;    // this row's beats complete their pooling groups
    assign s_axis_tready = !emit || !out_valid || m_axis_tready;
    wire take = s_axis_tvalid && s_axis_tready;
    wire [OW-1:0] above = group[col];

    function automatic [B-1:0] larger(input [B-1:0] a, input [B-1:0] b);
        if (SIGNED != 0) larger = $signed(a) > $signed(b) ? a : b;
        else larger = a > b ? a : b;
    endfunction

    wire [OW-1:0] pooled;           // K pixels of this beat, then the rows above, per channel
    genvar g, c, i;
    generate
        for (g = 0; g < Q; g = g + 1) begin : g_pixel
            for (c = 0; c < C; c = c + 1) begin : g_channel
                wire [K*B-1:0] run;     // run[i]: max of the group's pixels 0..i in this beat
                assign run[0 +: B] = s_axis_tdata[((g*K)*C + c)*B +: B];
                for (i = 1; i < K; i = i + 1) begin : g_tap
                    assign run[i*B +: B] = larger(run[(i-1)*B +: B], s_axis_tdata[((g*K + i)*C + c)*B +: B]);
                end
                wire [B-1:0] here = run[(K-1)*B +: B];
                assign pooled[(g*C + c)*B +: B] = row == {RW{1'b0}} ? here : larger(above[(g*C + c)*B +: B], here);
            end
        end
    endgenerate

    always @(posedge clk) begin
        if (take && !emit) group[col] <= pooled;
        if (take && emit) out_data <= pooled;
    end

    always @(posedge clk) begin
        if (rst) begin
            col <= {CW{1'b0}};
            row <= {RW{1'b0}};
            out_valid <= 1'b0;
            out_last <= 1'b0;
        end else begin
            if (m_axis_tready) out_valid <= 1'b0;
            if (take) begin
                if (emit) begin
                    out_valid <= 1'b1;
                    out_last <= s_axis_tlast;
                end
                if (s_axis_tlast) begin
                    col <= {CW{1'b0}};
                    row <= {RW{1'b0}};
                end else if (col == LAST_COL) begin
                    col <= {CW{1'b0}};
                    row <= emit ? {RW{1'b0}} : row + 1'b1;
                end else begin
                    col <= col + 1'b1;
                end
            end
        end
    end

    assign m_axis_tdata = out_data;
    assign m_axis_tvalid = out_valid;
    assign m_axis_tlast = out_last;
endmodule
