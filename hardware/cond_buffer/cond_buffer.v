`timescale 1ns / 1ps
// Conditional buffer of a multi-exit pipeline (ATHEENA's): holds the frames a
// stage forwards until that sample's exit decision, then passes the frame on
// (keep) or discards it (drop).
//
// Frames are FRAME_BEATS beats of W bits on s_axis; decisions arrive in frame
// order on dec (dec_tdata[0] = 1 keep, 0 drop), one per frame. A decision is
// taken only once its frame is completely written (dec_tready stays low until
// then, so a decision may arrive before, during or after its frame). A kept
// frame leaves on m_axis in order, whole, with tlast on its last beat; a
// dropped frame is discarded in one cycle by moving a pointer past it. Frames
// are never reordered, duplicated or lost. tlast on s_axis is not used to cut
// frames: a frame is FRAME_BEATS beats, and frame_error goes high (sticky
// until reset) if an input tlast disagrees with that count.
//
// Storage is a plain simple-dual-port synchronous RAM of DEPTH beats (a power
// of two >= FRAME_BEATS), so Yosys maps deep instances to block RAM. A
// queue holds the start addresses of decided kept frames; its head entry is
// the read address, which advances one beat per cycle into the RAM's
// read register and a one-beat output register (as in stream_fifo.v). The
// queue is deep enough for every whole frame the RAM can hold, so a decision
// is never held back by it: with two entries, a third kept frame waiting
// stopped every decision behind it, the exit head and so stage 1, while the
// RAM had room (a 57-frame buffer then behaved like about 32 frames). With
// decisions waiting, kept frames leave back to back at one beat per cycle,
// and a drop costs no output cycle as long as no more than FRAME_BEATS - 1
// drops follow each other (one decision is taken per cycle). Slots free in
// order: a slot is free once its beat was read (or its frame dropped) and all
// older slots are free; s_axis_tready falls when all DEPTH slots are in use. s_axis_tready, dec_tready and m_axis_tvalid come
// from registers only. frames_held counts frames with beats in the RAM
// (written at least in part and not yet read out in full or dropped).
//
// Sizing and deadlock: the exit head that produces decision k needs all of
// frame k first, and a fork in front of both feeds the head only as fast as
// this buffer accepts, so DEPTH >= FRAME_BEATS is required or the pipeline
// deadlocks (the Python descriptor enforces it). The head must also emit
// decision k without waiting for beats of frame k + 1. For 1 beat/cycle in
// steady state, DEPTH must also cover the beats that arrive while a decision
// is on its way: with decision k offered L >= 1 cycles after frame k's last
// beat entered, a slot is held FRAME_BEATS + L + 1 cycles, so DEPTH >=
// FRAME_BEATS + L + 1 (measured; CondBuffer.depth_for). Bursts and output
// back-pressure need more: the queue model sizes that.
// Reset is synchronous and active high.
module cond_buffer #(
    parameter integer W = 8,
    parameter integer FRAME_BEATS = 4,
    parameter integer DEPTH = 16
) (
    input clk,
    input rst,
    input [W-1:0] s_axis_tdata,
    input s_axis_tlast,
    input s_axis_tvalid,
    output s_axis_tready,
    input [0:0] dec_tdata,
    input dec_tvalid,
    output dec_tready,
    output [W-1:0] m_axis_tdata,
    output m_axis_tlast,
    output m_axis_tvalid,
    input m_axis_tready,
    output [$clog2(DEPTH):0] frames_held,
    output frame_error
);
    localparam integer AW = $clog2(DEPTH);
    localparam integer BW = FRAME_BEATS > 1 ? $clog2(FRAME_BEATS) : 1;  // beat index in a frame
    localparam integer LAST_BEAT = FRAME_BEATS - 1;

    reg [W-1:0] mem [0:DEPTH-1];
    // pointers are one bit wider than the address: DEPTH slots in use and none differ
    reg [AW:0] wr_ptr;   // next slot written
    reg [BW-1:0] wr_beat;
    reg [AW:0] dec_ptr;  // first beat of the oldest frame without a decision
    // decided kept frames after the one being read: at most FRAMES - 1 (the RAM holds FRAMES whole frames)
    localparam integer FRAMES = DEPTH / FRAME_BEATS;
    localparam integer QW = FRAMES > 2 ? $clog2(FRAMES) : 1;
    localparam integer KQ = 1 << QW;
    reg [AW:0] kq0;      // read address in the oldest kept frame
    reg reading;         // kq0 points into a kept frame not yet read out in full
    reg [AW:0] kq_mem [0:KQ-1];   // first beats of the kept frames after it, in order
    reg [QW:0] kq_wr;
    reg [QW:0] kq_rd;
    reg [BW-1:0] rd_beat;
    reg [AW:0] held;
    reg error_q;

    reg [W-1:0] ram_q;  // the RAM's read register
    reg ram_q_last;
    reg ram_q_valid;
    reg [W-1:0] out_q;
    reg out_last;
    reg out_valid;

    // the oldest slot still needed: the read address, or the oldest undecided frame when nothing is kept
    wire [AW:0] free_ptr = reading ? kq0 : dec_ptr;
    wire [QW:0] queued = kq_wr - kq_rd;
    wire [AW:0] used = wr_ptr - free_ptr;
    wire [AW:0] undecided = wr_ptr - dec_ptr;  // beats written and not decided, the last frame maybe in part

    assign s_axis_tready = !rst && !used[AW];
    wire push = s_axis_tvalid && s_axis_tready;
    wire wr_last = wr_beat == LAST_BEAT[BW-1:0];

    assign dec_tready = !rst && undecided >= FRAME_BEATS[AW:0] && !queued[QW];
    wire dec_fire = dec_tvalid && dec_tready;
    wire keep = dec_fire && dec_tdata[0];
    wire drop = dec_fire && !dec_tdata[0];

    wire out_load = ram_q_valid && (!out_valid || m_axis_tready);
    wire ram_rd = reading && (!ram_q_valid || out_load);
    wire rd_last = rd_beat == LAST_BEAT[BW-1:0];
    wire pop = ram_rd && rd_last;  // the oldest kept frame's last beat is read
    wire next_from_queue = pop && queued != 0;
    wire keep_to_read = keep && (!reading || (pop && queued == 0));   // becomes the frame read next
    wire keep_to_queue = keep && !keep_to_read;

    always @(posedge clk) begin
        if (push) mem[wr_ptr[AW-1:0]] <= s_axis_tdata;
        if (ram_rd) ram_q <= mem[kq0[AW-1:0]];
        if (ram_rd) ram_q_last <= rd_last;
        if (out_load) begin
            out_q <= ram_q;
            out_last <= ram_q_last;
        end
    end

    always @(posedge clk) begin
        if (rst) begin
            wr_ptr <= 0;
            wr_beat <= 0;
            dec_ptr <= 0;
            reading <= 1'b0;
            kq_wr <= 0;
            kq_rd <= 0;
            rd_beat <= 0;
            held <= 0;
            error_q <= 1'b0;
            ram_q_valid <= 1'b0;
            out_valid <= 1'b0;
        end else begin
            if (push) begin
                wr_ptr <= wr_ptr + 1'b1;
                wr_beat <= wr_last ? {BW{1'b0}} : wr_beat + 1'b1;
                if (s_axis_tlast != wr_last) error_q <= 1'b1;
            end
            if (dec_fire) dec_ptr <= dec_ptr + FRAME_BEATS[AW:0];
            if (ram_rd) rd_beat <= rd_last ? {BW{1'b0}} : rd_beat + 1'b1;
            reading <= (reading && !pop) || next_from_queue || keep_to_read;
            kq_wr <= kq_wr + {{QW{1'b0}}, keep_to_queue};
            kq_rd <= kq_rd + {{QW{1'b0}}, next_from_queue};
            held <= held + {{AW{1'b0}}, push && wr_beat == {BW{1'b0}}} - {{AW{1'b0}}, drop}
                - {{AW{1'b0}}, pop};
            if (ram_rd) ram_q_valid <= 1'b1;
            else if (out_load) ram_q_valid <= 1'b0;
            if (out_load) out_valid <= 1'b1;
            else if (m_axis_tready) out_valid <= 1'b0;
        end
    end

    // kept-frame queue; a keep never arrives while it is full (dec_tready)
    always @(posedge clk) begin
        if (keep_to_queue) kq_mem[kq_wr[QW-1:0]] <= dec_ptr;
        if (ram_rd && !rd_last) kq0 <= kq0 + 1'b1;
        if (next_from_queue) kq0 <= kq_mem[kq_rd[QW-1:0]];
        else if (keep_to_read) kq0 <= dec_ptr;
    end

    assign m_axis_tdata = out_q;
    assign m_axis_tlast = out_last;
    assign m_axis_tvalid = out_valid;
    assign frames_held = held;
    assign frame_error = error_q;
endmodule
