`timescale 1ns / 1ps
// Broadcasts one stream (W data bits + tlast) to N outputs.
//
// Output i is m_axis_t*[i] (data at m_axis_tdata[i*W +: W]). A beat is held
// in one register with a 'taken' flag per output: output i shows it until it
// takes it, and the register frees when every output has taken it, so each
// output sees every beat exactly once and in order, whatever its stalls. No
// m_axis_tvalid depends on any tready (only on the register and the flags).
// s_axis_tready is high when the register is empty or its beat leaves this
// cycle, a combinational path from the m_axis_tready inputs, so the fork
// passes one beat per cycle when all outputs are ready; a stream_fifo in
// front cuts that path if needed. Latency is one cycle.
// Reset is synchronous and active high.
module stream_fork #(
    parameter integer W = 8,
    parameter integer N = 2
) (
    input clk,
    input rst,
    input [W-1:0] s_axis_tdata,
    input s_axis_tlast,
    input s_axis_tvalid,
    output s_axis_tready,
    output [N*W-1:0] m_axis_tdata,
    output [N-1:0] m_axis_tlast,
    output [N-1:0] m_axis_tvalid,
    input [N-1:0] m_axis_tready
);
    reg [W-1:0] data_q;
    reg last_q;
    reg valid_q;
    reg [N-1:0] taken;  // output i already took the held beat

    wire [N-1:0] done = taken | (m_axis_tvalid & m_axis_tready);  // output i has it by the end of this cycle
    wire leave = valid_q && (&done);
    assign s_axis_tready = !rst && (!valid_q || leave);
    wire accept = s_axis_tvalid && s_axis_tready;

    always @(posedge clk) begin
        if (accept) begin
            data_q <= s_axis_tdata;
            last_q <= s_axis_tlast;
        end
    end

    always @(posedge clk) begin
        if (rst) begin
            valid_q <= 1'b0;
            taken <= {N{1'b0}};
        end else begin
            if (accept) valid_q <= 1'b1;
            else if (leave) valid_q <= 1'b0;
            if (leave || !valid_q) taken <= {N{1'b0}};
            else taken <= done;
        end
    end

    assign m_axis_tdata = {N{data_q}};
    assign m_axis_tlast = {N{last_q}};
    assign m_axis_tvalid = {N{valid_q}} & ~taken;
endmodule
