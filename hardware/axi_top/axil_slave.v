`timescale 1ns / 1ps
// AXI4-Lite slave front end: turns the five channels into a simple register port.
//
// Writes: AW and W are taken independently (each held until both are in); then wr_en pulses for
// one cycle with wr_addr (word address), wr_data, wr_strb, and the response (OKAY) is raised.
// Reads: AR is taken when no read response is pending; rd_en pulses in that cycle with rd_addr and
// rd_data (the register decoder's combinational output) is captured into RDATA. One read and one
// write are in flight at most; every response is OKAY (unmapped addresses read 0, ignore writes).
module axil_slave #(
    parameter integer ADDR_W = 12
) (
    input clk,
    input rst,
    // the byte-lane bits [1:0] of the addresses are unused: registers are 32-bit words
    // verilator lint_off UNUSEDSIGNAL
    input [ADDR_W-1:0] s_axil_awaddr,
    input s_axil_awvalid,
    output s_axil_awready,
    input [31:0] s_axil_wdata,
    input [3:0] s_axil_wstrb,
    input s_axil_wvalid,
    output s_axil_wready,
    output [1:0] s_axil_bresp,
    output reg s_axil_bvalid,
    input s_axil_bready,
    input [ADDR_W-1:0] s_axil_araddr,
    // verilator lint_on UNUSEDSIGNAL
    input s_axil_arvalid,
    output s_axil_arready,
    output reg [31:0] s_axil_rdata,
    output [1:0] s_axil_rresp,
    output reg s_axil_rvalid,
    input s_axil_rready,
    output reg wr_en,
    output reg [ADDR_W-3:0] wr_addr,
    output reg [31:0] wr_data,
    output reg [3:0] wr_strb,
    output rd_en,
    output [ADDR_W-3:0] rd_addr,
    input [31:0] rd_data
);
    reg aw_held, w_held;

    assign s_axil_awready = !aw_held;
    assign s_axil_wready = !w_held;
    assign s_axil_bresp = 2'b00;
    assign s_axil_rresp = 2'b00;
    assign s_axil_arready = !s_axil_rvalid;
    assign rd_en = s_axil_arvalid && s_axil_arready;
    assign rd_addr = s_axil_araddr[ADDR_W-1:2];

    // a write goes out once both halves are held and the previous response was taken
    wire commit = aw_held && w_held && !s_axil_bvalid;

    always @(posedge clk) begin
        if (rst) begin
            aw_held <= 1'b0;
            w_held <= 1'b0;
            wr_en <= 1'b0;
            s_axil_bvalid <= 1'b0;
            s_axil_rvalid <= 1'b0;
        end else begin
            wr_en <= commit;
            if (s_axil_awvalid && s_axil_awready) begin
                aw_held <= 1'b1;
                wr_addr <= s_axil_awaddr[ADDR_W-1:2];
            end
            if (s_axil_wvalid && s_axil_wready) begin
                w_held <= 1'b1;
                wr_data <= s_axil_wdata;
                wr_strb <= s_axil_wstrb;
            end
            if (commit) begin
                aw_held <= 1'b0;
                w_held <= 1'b0;
                s_axil_bvalid <= 1'b1;
            end else if (s_axil_bvalid && s_axil_bready) begin
                s_axil_bvalid <= 1'b0;
            end
            if (rd_en) begin
                s_axil_rvalid <= 1'b1;
                s_axil_rdata <= rd_data;
            end else if (s_axil_rvalid && s_axil_rready) begin
                s_axil_rvalid <= 1'b0;
            end
        end
    end
endmodule
