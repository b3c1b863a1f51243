`timescale 1ns / 1ps
// After exit unit K: a sample leaves as a result or goes on to stage K+1.
//
// The decision stream (exit unit output) and the side stream (sample id and
// forwarded tensor, queued beside the exit unit) advance in lockstep. A
// sample leaves when the unit says exit and early exits are enabled, or
// always at the last exit (LAST = 1). Result word {confidence, class,
// exit index K, id}, id in the low ID_W bits. FWD_W counts the forwarded
// tensor's bits (give 1 and a dummy bit at the last exit).
module pl_exit_route #(
    parameter integer ID_W = 8,
    parameter integer FWD_W = 1,
    parameter integer CONF_W = 8,
    parameter integer CLS_W = 4,
    parameter integer EXIT_W = 2,
    parameter integer K = 1,
    parameter integer LAST = 0
) (
    input exits_enable,
    // exit unit decision: {confidence, class, exit flag}
    input [CONF_W+CLS_W:0] dec_data,
    input dec_valid,
    output dec_ready,
    // side stream: {forwarded tensor, id}
    input [FWD_W+ID_W-1:0] side_data,
    input side_valid,
    output side_ready,
    output [CONF_W+CLS_W+EXIT_W+ID_W-1:0] res_data,
    output res_valid,
    input res_ready,
    output [FWD_W+ID_W-1:0] next_data,
    output next_valid,
    input next_ready
);
    wire exit_flag = dec_data[0];
    wire [CLS_W-1:0] cls = dec_data[CLS_W:1];
    wire [CONF_W-1:0] conf = dec_data[CONF_W+CLS_W:CLS_W+1];
    wire [ID_W-1:0] id = side_data[ID_W-1:0];
    wire both = dec_valid && side_valid;
    wire leave = (LAST != 0) || (exits_enable && exit_flag);
    wire go = leave ? res_ready : next_ready;

    assign res_valid = both && leave;
    assign next_valid = both && !leave;
    assign res_data = {conf, cls, K[EXIT_W-1:0], id};
    assign next_data = side_data;
    assign dec_ready = side_valid && go;
    assign side_ready = dec_valid && go;
endmodule
