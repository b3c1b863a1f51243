`timescale 1ns / 1ps
// Decoupler between the static design and a reconfigurable partition (AXI4-Stream both ways).
//
// decouple_req asks to rewrite the partition. The decoupler first stops taking
// input, but only at a packet boundary and never while a beat is being offered
// to the partition (so valid never drops mid-offer); it keeps delivering the
// partition's results until every accepted packet has come out, and only then
// raises decouple_ack. While decoupled: the static input sees tready = 0, the
// static output sees tvalid = 0 whatever the partition drives, and rm_reset
// holds the partition in reset, so the new module starts empty. Dropping
// decouple_req resumes the stream where it stopped: nothing lost, nothing twice.
// The partition must turn every input packet into exactly one output packet.
//
// Reset is synchronous and active high.
module pr_decoupler #(
    parameter integer DATA_W = 32,
    parameter integer COUNT_W = 8   // packets that can be in flight inside the partition
) (
    input clk,
    input rst,
    input decouple_req,
    output decouple_ack,
    output rm_reset,
    // static side: input from the DMA
    input [DATA_W-1:0] s_axis_tdata,
    input s_axis_tvalid,
    output s_axis_tready,
    input s_axis_tlast,
    // static side: output to the DMA / exit units
    output [DATA_W-1:0] m_axis_tdata,
    output m_axis_tvalid,
    input m_axis_tready,
    output m_axis_tlast,
    // partition side: into the reconfigurable module
    output [DATA_W-1:0] rp_m_axis_tdata,
    output rp_m_axis_tvalid,
    input rp_m_axis_tready,
    output rp_m_axis_tlast,
    // partition side: out of the reconfigurable module
    input [DATA_W-1:0] rp_s_axis_tdata,
    input rp_s_axis_tvalid,
    output rp_s_axis_tready,
    input rp_s_axis_tlast
);
    reg stop_in;          // no new input accepted (set at a packet boundary)
    reg decoupled;        // partition drained and isolated: safe to rewrite
    reg in_pkt;           // an input packet has started and not ended
    reg [COUNT_W-1:0] in_flight;  // packets accepted and not yet delivered

    wire pass_in = !stop_in && !decoupled;
    assign rp_m_axis_tdata = s_axis_tdata;
    assign rp_m_axis_tlast = s_axis_tlast;
    assign rp_m_axis_tvalid = s_axis_tvalid && pass_in;
    assign s_axis_tready = rp_m_axis_tready && pass_in && !rst;

    assign m_axis_tdata = rp_s_axis_tdata;
    assign m_axis_tlast = rp_s_axis_tlast;
    assign m_axis_tvalid = rp_s_axis_tvalid && !decoupled;
    assign rp_s_axis_tready = m_axis_tready && !decoupled;

    assign decouple_ack = decoupled;
    assign rm_reset = decoupled;

    wire in_fire = s_axis_tvalid && s_axis_tready;
    wire out_fire = m_axis_tvalid && m_axis_tready;
    wire in_pkt_next = in_fire ? !s_axis_tlast : in_pkt;
    wire offer_pending = rp_m_axis_tvalid && !rp_m_axis_tready;
    wire [COUNT_W-1:0] in_flight_next = in_flight + {{(COUNT_W-1){1'b0}}, in_fire && s_axis_tlast}
                                                  - {{(COUNT_W-1){1'b0}}, out_fire && rp_s_axis_tlast};

    always @(posedge clk) begin
        if (rst) begin
            stop_in <= 1'b0;
            decoupled <= 1'b0;
            in_pkt <= 1'b0;
            in_flight <= {COUNT_W{1'b0}};
        end else begin
            in_pkt <= in_pkt_next;
            in_flight <= in_flight_next;
            if (!decouple_req) begin
                stop_in <= 1'b0;
                decoupled <= 1'b0;
            end else begin
                if (!stop_in && !in_pkt_next && !offer_pending) stop_in <= 1'b1;
                if (stop_in && !in_pkt && in_flight_next == {COUNT_W{1'b0}}) decoupled <= 1'b1;
            end
        end
    end
endmodule
