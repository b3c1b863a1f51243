`timescale 1ns / 1ps
// Line buffer of the sliding-window generator: one write port, one registered read port, no reset,
// so Yosys maps it to block RAM (RAMB18E1/RAMB36E1) or distributed RAM (RAM32M/RAM64M).
module swg_line_buffer #(
    parameter integer W = 8,
    parameter integer DEPTH = 2,
    parameter integer AW = 1
) (
    input clk,
    input we,
    input [AW-1:0] wr_addr,
    input [W-1:0] wr_data,
    input [AW-1:0] rd_addr,
    output reg [W-1:0] rd_data
);
    reg [W-1:0] mem [0:DEPTH-1];

    always @(posedge clk) begin
        if (we) mem[wr_addr] <= wr_data;
    end

    always @(posedge clk) begin
        rd_data <= mem[rd_addr];
    end
endmodule
