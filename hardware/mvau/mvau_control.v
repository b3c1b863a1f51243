`timescale 1ns / 1ps
// Step sequencer of a matrix-vector unit (MVAU), FINN's PE x SIMD folding.
//
// A vector arrives as BEATS input beats. Each beat is held in a register and
// walked in SF * NF steps, neuron fold `nf` outer, synapse fold `sf` inner;
// one step per cycle feeds SIMD elements x PE outputs to the datapath. `addr`
// counts the steps of a vector (the weight ROM address). The next beat is
// accepted in the cycle the last step of the current one issues, so back to
// back beats take exactly SF * NF cycles each: no bubble between beats or
// vectors.
//
// The datapath is a free-running pipeline whose results land in an output
// FIFO of DEPTH entries. `occupancy` counts vectors whose final step issued
// and whose output beat has not left (`out_taken`); a vector's final step
// issues only while occupancy < DEPTH, so every result is guaranteed a FIFO
// slot. s_ready and the issue depend on registers only: no combinational
// path from m_axis_tready to s_axis_tready.
//
// Reset is synchronous and active high.
module mvau_control #(
    parameter integer IN_W = 8,     // bits of one input beat
    parameter integer SF = 1,       // synapse folds per beat: IN_ELEMS / SIMD
    parameter integer NF = 1,       // neuron folds: OUT / PE
    parameter integer BEATS = 1,    // input beats per vector
    parameter integer DEPTH = 2,    // output FIFO entries
    parameter integer SF_W = 1,     // counter widths, each >= $clog2(count) and >= 1 (the generator passes them)
    parameter integer NF_W = 1,
    parameter integer BEAT_W = 1,
    parameter integer ADDR_W = 1,   // >= $clog2(BEATS * NF * SF)
    parameter integer OCC_W = 2     // >= $clog2(DEPTH + 1)
) (
    input clk,
    input rst,
    input [IN_W-1:0] s_data,
    input s_last,
    input s_valid,
    output s_ready,
    // the current step, valid while `issue` is high
    output issue,
    output [IN_W-1:0] beat,
    output [SF_W-1:0] sf,
    output [NF_W-1:0] nf,
    output [ADDR_W-1:0] addr,
    output sf_first,
    output sf_last,
    output nf_last,
    output beat_first,
    output beat_last,
    output last,               // tlast of the current beat
    input out_taken              // an output beat left the FIFO
);
    localparam integer SF_LAST = SF - 1;
    localparam integer NF_LAST = NF - 1;
    localparam integer BEATS_LAST = BEATS - 1;
    localparam [SF_W-1:0] SF_END = SF_LAST[SF_W-1:0];
    localparam [NF_W-1:0] NF_END = NF_LAST[NF_W-1:0];
    localparam [BEAT_W-1:0] BEAT_END = BEATS_LAST[BEAT_W-1:0];
    localparam integer DEPTH_LAST = DEPTH - 1;
    localparam [OCC_W-1:0] ALMOST_FULL = DEPTH_LAST[OCC_W-1:0];

    reg busy;
    reg [IN_W-1:0] beat_r;
    reg last_r;
    reg [SF_W-1:0] sf_r;
    reg [NF_W-1:0] nf_r;
    reg [BEAT_W-1:0] beat_idx;
    reg [ADDR_W-1:0] addr_r;
    reg [OCC_W-1:0] occupancy;
    // position flags are registers beside their counters, so the issue path is two LUTs deep
    reg sf_first_r, sf_last_r, nf_last_r, beat_first_r, beat_last_r, full;

    wire beat_end_step = sf_last_r && nf_last_r;
    wire final_step = beat_end_step && beat_last_r;
    wire beat_done = issue && beat_end_step;
    wire s_fire = s_valid && s_ready;
    wire reserve = issue && final_step;

    wire [SF_W-1:0] sf_next = sf_last_r ? {SF_W{1'b0}} : sf_r + 1'b1;
    wire [NF_W-1:0] nf_next = nf_last_r ? {NF_W{1'b0}} : nf_r + 1'b1;
    wire [BEAT_W-1:0] beat_next = beat_last_r ? {BEAT_W{1'b0}} : beat_idx + 1'b1;
    wire [OCC_W-1:0] occupancy_next = occupancy + {{(OCC_W-1){1'b0}}, reserve} - {{(OCC_W-1){1'b0}}, out_taken};
    // full next cycle, from registers and the two strobes only (no adder on the path)
    wire full_next = (reserve && !out_taken) ? occupancy == ALMOST_FULL : (out_taken && !reserve) ? 1'b0 : full;

    assign sf_first = sf_first_r;
    assign sf_last = sf_last_r;
    assign nf_last = nf_last_r;
    assign beat_first = beat_first_r;
    assign beat_last = beat_last_r;
    assign issue = busy && (!final_step || !full);
    assign s_ready = !rst && (!busy || beat_done);
    assign beat = beat_r;
    assign last = last_r;
    assign sf = sf_r;
    assign nf = nf_r;
    assign addr = addr_r;

    always @(posedge clk) begin
        if (s_fire) begin
            beat_r <= s_data;
            last_r <= s_last;
        end
    end

    always @(posedge clk) begin
        if (rst) begin
            busy <= 1'b0;
            sf_r <= {SF_W{1'b0}};
            nf_r <= {NF_W{1'b0}};
            beat_idx <= {BEAT_W{1'b0}};
            addr_r <= {ADDR_W{1'b0}};
            occupancy <= {OCC_W{1'b0}};
            sf_first_r <= 1'b1;
            sf_last_r <= SF == 1;
            nf_last_r <= NF == 1;
            beat_first_r <= 1'b1;
            beat_last_r <= BEATS == 1;
            full <= 1'b0;
        end else begin
            if (s_fire) busy <= 1'b1;
            else if (beat_done) busy <= 1'b0;
            if (issue) begin
                sf_r <= sf_next;
                sf_first_r <= sf_last_r;
                sf_last_r <= sf_next == SF_END;
                if (sf_last_r) begin
                    nf_r <= nf_next;
                    nf_last_r <= nf_next == NF_END;
                end
                if (beat_end_step) begin
                    beat_idx <= beat_next;
                    beat_first_r <= beat_last_r;
                    beat_last_r <= beat_next == BEAT_END;
                end
                addr_r <= final_step ? {ADDR_W{1'b0}} : addr_r + 1'b1;
            end
            occupancy <= occupancy_next;
            full <= full_next;
        end
    end
endmodule
