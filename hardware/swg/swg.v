`timescale 1ns / 1ps
// Sliding-window generator: a pixel stream in, one full K_H x K_W window per output position out
// (FINN finn-rtllib/swg "parallel" style), P windows per beat.
//
// Input: the hardware/README.md pixel stream, P pixels per beat, pixel j channel c at
// s_axis_tdata[(j*C + c)*B +: B], raster order, s_axis_tlast on the frame's last beat (frames are
// counted, so tlast is not needed and not checked).
// Output: one window per output position (oh, ow) in raster order, P windows of an output row per
// beat; window j of a beat at [j*K_H*K_W*C*B +: K_H*K_W*C*B], element (dh, dw, c) of the window at
// index (dh*K_W + dw)*C + c (C-order flatten of the (K_H, K_W, C) patch); padding is code 0;
// m_axis_tlast on the frame's last window. out = (IN + PAD_lo + PAD_hi - K) / S + 1 (TensorFlow).
//
// The generator scans the padded image (HP x WP positions), P columns per cycle. A position in the
// image takes one input beat; a padding position takes none and shifts zeros. So a frame takes
// exactly HP * WP / P cycles while the output is not stalled, and frames follow back to back.
// Storage: the K_H-1 rows above the scan position live in a line buffer, a plain synchronous RAM of
// IN_W/P words of (K_H-1)*P pixels (word a = the column(s) at image step a, oldest row first), so
// synthesis maps it to BRAM or LUTRAM; it is read one cycle ahead of use (registered read port).
// Padding columns are not stored (every row is zero there). Only the window, K_H x (K_W+P-1)
// pixels, is in flip-flops; m_axis_tdata is wiring from it.
//
// Handshakes: m_axis_tvalid comes from a register. s_axis_tready = "output register free" and
// "position needs input", so it depends combinationally on m_axis_tready (AXI allows this; put a
// FIFO behind the generator to cut the ready chain).
// Parameter limits (checked by hardware/swg build_swg): 1 <= K <= padded size, S >= 1; P > 1 only
// with S_W = S_H = 1 and IN_W, PAD_L, PAD_R and K_W-1 multiples of P (whole beats per row).
// Reset is synchronous and active high.
module swg #(
    parameter integer IN_H = 8,
    parameter integer IN_W = 8,
    parameter integer C = 1,
    parameter integer B = 8,
    parameter integer K_H = 3,
    parameter integer K_W = 3,
    parameter integer S_H = 1,
    parameter integer S_W = 1,
    parameter integer PAD_T = 0,
    parameter integer PAD_B = 0,
    parameter integer PAD_L = 0,
    parameter integer PAD_R = 0,
    parameter integer P = 1
) (
    input clk,
    input rst,
    input [P*C*B-1:0] s_axis_tdata,
    input s_axis_tvalid,
    output s_axis_tready,
    // verilator lint_off UNUSEDSIGNAL
    input s_axis_tlast,  // frames are counted; accepted for the stream convention only
    // verilator lint_on UNUSEDSIGNAL
    output [P*K_H*K_W*C*B-1:0] m_axis_tdata,
    output m_axis_tvalid,
    input m_axis_tready,
    output m_axis_tlast
);
    localparam integer PIX = C * B;                    // bits of one pixel
    localparam integer HP = IN_H + PAD_T + PAD_B;      // padded rows
    localparam integer WP = IN_W + PAD_L + PAD_R;      // padded columns
    localparam integer OUT_H = (HP - K_H) / S_H + 1;
    localparam integer OUT_W = (WP - K_W) / S_W + 1;
    localparam integer STEPS = WP / P;                 // column steps per padded row
    localparam integer OUT_STEPS = OUT_W / P;          // output beats per output row
    localparam integer LB_DEPTH = IN_W / P;            // line-buffer words = image steps per row
    localparam integer COLS = K_W + P - 1;             // window register columns
    localparam integer FIRST_STEP = (K_W - 1) / P;     // step of a row's first output beat
    localparam integer CW = $clog2((HP > WP ? HP : WP) + 2);  // counter width
    localparam integer AW = LB_DEPTH > 1 ? $clog2(LB_DEPTH) : 1;

    localparam integer ROW_LAST_I = HP - 1;
    localparam integer STEP_LAST_I = STEPS - 1;
    localparam integer ROW_IN_I = PAD_T, ROW_OUT_I = PAD_T + IN_H;
    localparam integer STEP_IN_I = PAD_L / P, STEP_OUT_I = (PAD_L + IN_W) / P;
    localparam integer ROW_WAIT0_I = K_H - 1, ROW_GAP_I = S_H - 1;
    localparam integer STEP_WAIT0_I = FIRST_STEP, STEP_GAP_I = S_W - 1;
    localparam integer ADDR_LAST_I = LB_DEPTH - 1;
    localparam [CW-1:0] ROW_LAST = ROW_LAST_I[CW-1:0];
    localparam [CW-1:0] STEP_LAST = STEP_LAST_I[CW-1:0];
    localparam [CW-1:0] ROW_IN = ROW_IN_I[CW-1:0];
    localparam [CW-1:0] ROW_OUT = ROW_OUT_I[CW-1:0];
    localparam [CW-1:0] STEP_IN = STEP_IN_I[CW-1:0];
    localparam [CW-1:0] STEP_OUT = STEP_OUT_I[CW-1:0];
    localparam [CW-1:0] ROW_WAIT0 = ROW_WAIT0_I[CW-1:0];
    localparam [CW-1:0] ROW_GAP = ROW_GAP_I[CW-1:0];
    localparam [CW-1:0] STEP_WAIT0 = STEP_WAIT0_I[CW-1:0];
    localparam [CW-1:0] STEP_GAP = STEP_GAP_I[CW-1:0];
    localparam [CW-1:0] ROWS_OUT = OUT_H[CW-1:0];
    localparam [CW-1:0] STEPS_OUT = OUT_STEPS[CW-1:0];
    localparam [CW-1:0] ONE = 1;
    localparam [AW-1:0] ADDR_LAST = ADDR_LAST_I[AW-1:0];

    // ---- scan position and what happens there
    reg [CW-1:0] row, step;              // padded row, column step
    reg in_row, in_col;                  // the position lies in the image rows / columns
    reg [CW-1:0] row_wait, step_wait;    // rows / steps until the next window row / column (stride)
    reg [CW-1:0] rows_left, steps_left;  // window rows of the frame / beats of the row still to emit
    reg out_valid, out_last;

    wire needs_input = in_row && in_col;
    wire out_free = !out_valid || m_axis_tready;
    wire advance = !rst && out_free && (!needs_input || s_axis_tvalid);
    wire row_end = step == STEP_LAST;
    wire frame_end = row_end && row == ROW_LAST;
    wire row_emits = row_wait == 0 && rows_left != 0;
    wire step_emits = step_wait == 0 && steps_left != 0;
    wire emit = row_emits && step_emits;
    wire [CW-1:0] step_next = row_end ? {CW{1'b0}} : step + ONE;
    wire [CW-1:0] row_next = frame_end ? {CW{1'b0}} : row + ONE;

    assign s_axis_tready = !rst && out_free && needs_input;
    assign m_axis_tvalid = out_valid;
    assign m_axis_tlast = out_last;

    always @(posedge clk) begin
        if (rst) begin
            row <= 0;
            step <= 0;
            in_row <= ROW_IN_I == 0;
            in_col <= STEP_IN_I == 0;
            row_wait <= ROW_WAIT0;
            step_wait <= STEP_WAIT0;
            rows_left <= ROWS_OUT;
            steps_left <= STEPS_OUT;
        end else if (advance) begin
            step <= step_next;
            if (row_end) in_col <= STEP_IN_I == 0;
            else if (step_next == STEP_IN) in_col <= 1'b1;
            else if (step_next == STEP_OUT) in_col <= 1'b0;
            if (row_end) begin
                step_wait <= STEP_WAIT0;
                steps_left <= STEPS_OUT;
                row <= row_next;
                if (frame_end) in_row <= ROW_IN_I == 0;
                else if (row_next == ROW_IN) in_row <= 1'b1;
                else if (row_next == ROW_OUT) in_row <= 1'b0;
                if (frame_end) begin
                    row_wait <= ROW_WAIT0;
                    rows_left <= ROWS_OUT;
                end else if (row_emits) begin
                    row_wait <= ROW_GAP;
                    rows_left <= rows_left - ONE;
                end else if (row_wait != 0) begin
                    row_wait <= row_wait - ONE;
                end
            end else if (step_emits) begin
                step_wait <= STEP_GAP;
                steps_left <= steps_left - ONE;
            end else if (step_wait != 0) begin
                step_wait <= step_wait - ONE;
            end
        end
    end

    // the window register holds the window of the position scanned last: emit it if it is one
    always @(posedge clk) begin
        if (rst) begin
            out_valid <= 1'b0;
            out_last <= 1'b0;
        end else if (advance) begin
            out_valid <= emit;
            out_last <= emit && rows_left == ONE && steps_left == ONE;
        end else if (m_axis_tready) begin
            out_valid <= 1'b0;
        end
    end

    // ---- the new column(s): row i (0 = oldest) pixel j at [(i*P + j)*PIX +: PIX]
    wire [P*PIX-1:0] pixels = needs_input ? s_axis_tdata : {P*PIX{1'b0}};  // zeros in padding rows
    wire [K_H*P*PIX-1:0] column;

    generate
        if (K_H == 1) begin : g_no_lines
            assign column = in_col ? pixels : {P*PIX{1'b0}};
        end else begin : g_lines
            localparam integer LB_W = (K_H - 1) * P * PIX;
            wire [LB_W-1:0] above;  // the K_H-1 rows above the scan position, at its column(s)
            wire [LB_W-1:0] shifted = column[K_H*P*PIX-1:P*PIX];  // the newest K_H-1 rows
            wire lb_write = advance && in_col;
            assign column = in_col ? {pixels, above} : {K_H*P*PIX{1'b0}};
            if (LB_DEPTH == 1) begin : g_register  // one word: written and read back-to-back
                reg [LB_W-1:0] word;
                always @(posedge clk) begin
                    if (lb_write) word <= shifted;
                end
                assign above = word;
            end else begin : g_ram
                reg [AW-1:0] addr;  // word of the next image column step
                wire [AW-1:0] addr_next = addr == ADDR_LAST ? {AW{1'b0}} : addr + 1'b1;
                always @(posedge clk) begin
                    if (rst) addr <= 0;
                    else if (lb_write) addr <= addr_next;
                end
                // read one step ahead; the word written in this cycle is never the one read
                swg_line_buffer #(.W(LB_W), .DEPTH(LB_DEPTH), .AW(AW)) lines (
                    .clk(clk), .we(lb_write), .wr_addr(addr), .wr_data(shifted),
                    .rd_addr(lb_write ? addr_next : addr), .rd_data(above));
            end
        end
    endgenerate

    // ---- window register: K_H rows of COLS pixels, (dh, k) at [(dh*COLS + k)*PIX +: PIX]
    reg [K_H*COLS*PIX-1:0] win;
    genvar dh, k, j, dw;
    generate
        for (dh = 0; dh < K_H; dh = dh + 1) begin : g_row
            for (k = 0; k < COLS; k = k + 1) begin : g_col
                if (k < COLS - P) begin : g_shift
                    always @(posedge clk) begin
                        if (advance) win[(dh*COLS + k)*PIX +: PIX] <= win[(dh*COLS + k + P)*PIX +: PIX];
                    end
                end else begin : g_load
                    always @(posedge clk) begin
                        if (advance) win[(dh*COLS + k)*PIX +: PIX] <= column[(dh*P + k - (COLS - P))*PIX +: PIX];
                    end
                end
            end
        end
        // window j of the beat starts at register column j
        for (j = 0; j < P; j = j + 1) begin : g_window
            for (dh = 0; dh < K_H; dh = dh + 1) begin : g_wrow
                for (dw = 0; dw < K_W; dw = dw + 1) begin : g_wcol
                    assign m_axis_tdata[((j*K_H + dh)*K_W + dw)*PIX +: PIX] = win[(dh*COLS + j + dw)*PIX +: PIX];
                end
            end
        end
    endgenerate
endmodule
