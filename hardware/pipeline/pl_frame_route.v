`timescale 1ns / 1ps
// After exit unit K of a streaming pipeline: a sample leaves as a result, or its frame goes on.
//
// The decision stream (exit unit output) and the id stream (queued beside the exit unit) advance in
// lockstep. A sample leaves when the unit says exit and early exits are enabled, or always at the last
// exit (LAST = 1). Result word {confidence, class, exit index K, id}, id in the low ID_W bits. Every
// sample of a stage that forwards (LAST = 0) also sends its decision to the conditional buffer holding
// its frame (keep = 1: pass the frame to stage K+1, 0: drop it), and a kept sample's id goes on to
// stage K+1 with it. A sample moves only when every stream it needs can take it; all of them are
// FIFOs or the buffer's decision port, whose readies come from registers.
module pl_frame_route #(
    parameter integer ID_W = 8,
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
    input [ID_W-1:0] id_data,
    input id_valid,
    output id_ready,
    output [CONF_W+CLS_W+EXIT_W+ID_W-1:0] res_data,
    output res_valid,
    input res_ready,
    output keep_data,
    output keep_valid,
    input keep_ready,
    output [ID_W-1:0] next_id,
    output next_valid,
    input next_ready
);
    wire exit_flag = dec_data[0];
    wire [CLS_W-1:0] cls = dec_data[CLS_W:1];
    wire [CONF_W-1:0] conf = dec_data[CONF_W+CLS_W:CLS_W+1];
    wire both = dec_valid && id_valid;
    wire leave = (LAST != 0) || (exits_enable && exit_flag);
    wire forwards = LAST == 0;
    // the other streams this sample needs, seen from each output
    wire buffer_ok = !forwards || keep_ready;
    wire go = leave ? res_ready && buffer_ok : next_ready && buffer_ok;

    assign res_valid = both && leave && buffer_ok;
    assign res_data = {conf, cls, K[EXIT_W-1:0], id_data};
    assign keep_valid = forwards && both && (leave ? res_ready : next_ready);
    assign keep_data = !leave;
    assign next_valid = both && !leave && buffer_ok;
    assign next_id = id_data;
    assign dec_ready = id_valid && go;
    assign id_ready = dec_valid && go;
endmodule
