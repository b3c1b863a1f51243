`timescale 1ns / 1ps
// Simulation stand-in for a reconfigurable module (module name stage_rm, as in the
// DFX project). It adds `mode` to every beat (mode = which stage is loaded) and
// buffers up to 8 beats. While `scramble` is set the testbench is "rewriting" the
// partition: the module then accepts everything and drives valid garbage, which
// the decoupler must keep away from the static design. The testbench writes
// mode and scramble through the hierarchy.
// The module is named as the partition's modules are, not as this file: that is its point.
/* verilator lint_off DECLFILENAME */
module stage_rm #(
    parameter integer DATA_W = 32
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
    output m_axis_tlast
);
    reg [7:0] mode /* verilator public_flat_rw */;
    reg scramble /* verilator public_flat_rw */;
    reg [DATA_W:0] mem [0:7];
    reg [2:0] wr_ptr, rd_ptr;
    reg [3:0] count;
    reg [DATA_W-1:0] lfsr;
    initial begin
        mode = 8'd0;
        scramble = 1'b0;
        lfsr = {{(DATA_W-1){1'b0}}, 1'b1};
    end


    wire push = s_axis_tvalid && s_axis_tready && !scramble;
    wire pop = m_axis_tvalid && m_axis_tready && !scramble;
    assign s_axis_tready = scramble || (!rst && count != 4'd8);
    assign m_axis_tvalid = scramble || count != 4'd0;
    assign m_axis_tdata = scramble ? lfsr : mem[rd_ptr][DATA_W-1:0];
    assign m_axis_tlast = scramble ? lfsr[0] : mem[rd_ptr][DATA_W];

    always @(posedge clk) begin
        lfsr <= {lfsr[DATA_W-2:0], lfsr[DATA_W-1] ^ lfsr[DATA_W-3] ^ 1'b1};
        if (push) mem[wr_ptr] <= {s_axis_tlast, s_axis_tdata + {{(DATA_W-8){1'b0}}, mode}};
        if (rst) begin
            wr_ptr <= 3'd0;
            rd_ptr <= 3'd0;
            count <= 4'd0;
        end else begin
            if (push) wr_ptr <= wr_ptr + 3'd1;
            if (pop) rd_ptr <= rd_ptr + 3'd1;
            count <= count + {3'd0, push} - {3'd0, pop};
        end
    end
endmodule
