`timescale 1ns / 1ps
// Reorder buffer: results carrying a sequence id leave one per beat, in id order.
//
// The pipeline numbers samples 0, 1, 2, ... (mod 2**ID_W) as they enter and
// pulses `admit` for each. At most 2**AW samples may be in flight, so slot
// id mod 2**AW is always free when a result arrives: results are written
// from N lanes at once (one per exit; lane i at [i*W +: W], id in its low
// ID_W bits), s_ready is constant 1 and `can_admit` (registers only) tells
// the input side when to stop taking samples. A result written into the
// head slot is visible one cycle later. Reset: synchronous, active high.
module pl_reorder #(
    parameter integer N = 1,
    parameter integer W = 16,
    parameter integer ID_W = 8,
    parameter integer AW = 4
) (
    input clk,
    input rst,
    input admit,
    output can_admit,
    input [N*W-1:0] s_data,
    input [N-1:0] s_valid,
    output s_ready,
    output [W-1:0] m_data,
    output m_valid,
    input m_ready
);
    localparam integer SLOTS = 1 << AW;

    reg [W-1:0] mem [0:SLOTS-1];
    reg [SLOTS-1:0] filled;
    reg [ID_W-1:0] head;     // id of the next result to deliver
    reg [ID_W-1:0] issued;   // id the next admitted sample gets

    wire [AW-1:0] rd_slot = head[AW-1:0];
    // verilator lint_off UNUSEDSIGNAL
    wire [ID_W-1:0] in_flight = issued - head;  // only its bits above AW are tested
    // verilator lint_on UNUSEDSIGNAL
    wire pop = m_valid && m_ready;
    integer i;

    assign s_ready = 1'b1;
    assign can_admit = in_flight[ID_W-1:AW] == 0;  // in_flight < 2**AW
    assign m_valid = filled[rd_slot];
    assign m_data = mem[rd_slot];

    // lanes carry different ids, so they never write the same slot
    always @(posedge clk) begin
        for (i = 0; i < N; i = i + 1)
            if (s_valid[i]) mem[s_data[i*W +: AW]] <= s_data[i*W +: W];
    end

    always @(posedge clk) begin
        if (rst) begin
            filled <= {SLOTS{1'b0}};
            head <= 0;
            issued <= 0;
        end else begin
            if (admit) issued <= issued + 1'b1;
            if (pop) head <= head + 1'b1;
            // a slot is refilled only after its previous result left (admission limit)
            for (i = 0; i < N; i = i + 1)
                if (s_valid[i]) filled[s_data[i*W +: AW]] <= 1'b1;
            if (pop) filled[rd_slot] <= 1'b0;
        end
    end
endmodule
