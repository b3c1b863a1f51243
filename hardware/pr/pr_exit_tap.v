`timescale 1ns / 1ps
// Static exit decision on the region's result stream (region -> tap -> DMA).
//
// Each result packet starts with the exit logits (LOGIT_W bits, beat 0 first,
// as the stage cores pack them). The tap copies those beats into the exit
// unit's input while passing every beat through, then appends the unit's
// decision (DEC_W bits, zero-extended) as one more beat carrying tlast. One
// exit unit serves every stage loaded into the region; software writes the
// loaded stage's threshold into the unit between reconfigurations.
// Reset is synchronous and active high.
module pr_exit_tap #(
    parameter integer DATA_W = 32,
    parameter integer LOGIT_W = 160,
    parameter integer DEC_W = 18
) (
    input clk,
    input rst,
    input [DATA_W-1:0] s_axis_tdata,
    input s_axis_tvalid,
    output s_axis_tready,
    input s_axis_tlast,
    output [DATA_W-1:0] m_axis_tdata,
    output m_axis_tvalid,
    input m_axis_tready,
    output m_axis_tlast,
    // the exit unit
    output [LOGIT_W-1:0] eu_s_tdata,
    output eu_s_tvalid,
    input eu_s_tready,
    input [DEC_W-1:0] eu_m_tdata,
    input eu_m_tvalid,
    output eu_m_tready
);
    localparam integer NB = (LOGIT_W + DATA_W - 1) / DATA_W;
    localparam integer CW = $clog2(NB + 2);
    /* verilator lint_off WIDTHTRUNC */
    localparam [CW-1:0] NB_C = NB;
    /* verilator lint_on WIDTHTRUNC */

    reg [NB*DATA_W-1:0] logits;
    reg [CW-1:0] beat;        // beats of the current packet seen so far (saturates at NB)
    reg pending;              // logits captured, not yet taken by the exit unit
    reg tail;                 // packet passed; its decision beat is due

    // a logit beat of a new packet must wait until the previous logits are taken
    wire capture = beat < NB_C;
    wire hold = capture && pending;
    /* verilator lint_off WIDTHEXPAND */
    wire [DATA_W-1:0] decision = eu_m_tdata;   // zero-extended
    wire [NB*DATA_W-1:0] beat_ext = s_axis_tdata;
    /* verilator lint_on WIDTHEXPAND */

    assign s_axis_tready = !rst && !tail && !hold && m_axis_tready;
    assign m_axis_tdata = tail ? decision : s_axis_tdata;
    assign m_axis_tvalid = tail ? eu_m_tvalid : (s_axis_tvalid && !hold);
    assign m_axis_tlast = tail;
    assign eu_m_tready = tail && m_axis_tready;
    assign eu_s_tdata = logits[LOGIT_W-1:0];
    assign eu_s_tvalid = pending;

    wire s_fire = s_axis_tvalid && s_axis_tready;
    wire dec_fire = tail && eu_m_tvalid && m_axis_tready;

    always @(posedge clk) begin
        if (rst) begin
            beat <= 0;
            pending <= 1'b0;
            tail <= 1'b0;
        end else begin
            if (eu_s_tvalid && eu_s_tready) pending <= 1'b0;
            if (s_fire) begin
                if (capture) begin
                    logits <= (beat == 0 ? {(NB*DATA_W){1'b0}} : logits) | (beat_ext << (beat * DATA_W));
                    if (beat == NB_C - 1'b1 || s_axis_tlast) pending <= 1'b1;
                end
                beat <= s_axis_tlast ? {CW{1'b0}} : (capture ? beat + 1'b1 : beat);
                if (s_axis_tlast) tail <= 1'b1;
            end
            if (dec_fire) tail <= 1'b0;
        end
    end
endmodule
