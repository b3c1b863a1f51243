`timescale 1ns / 1ps
// Logit buffer of the serial exit unit: synchronous write, asynchronous read,
// so Yosys/Vivado map it to distributed RAM (LUTRAM) rather than flip-flops
// or a block RAM. Pass 1 writes one bank while pass 2 reads the other.
module eu_logit_buffer #(
  parameter WIDTH = 16,
  parameter DEPTH = 20,
  parameter AW = 5
) (
  input  wire clk,
  input  wire we,
  input  wire [AW-1:0] waddr,
  input  wire [WIDTH-1:0] wdata,
  input  wire [AW-1:0] raddr,
  output wire [WIDTH-1:0] rdata
);
  (* ram_style = "distributed" *) reg [WIDTH-1:0] mem [0:DEPTH-1];
  always @(posedge clk) if (we) mem[waddr] <= wdata;
  assign rdata = mem[raddr];
endmodule
