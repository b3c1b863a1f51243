`timescale 1ns / 1ps
// Unpacks DMA words into pipeline beats.
//
// Packing (what the host writes): a sample is FRAME_BEATS beats of BEAT_W bits; beat j of the
// sample sits at bits [j*BEAT_W +: BEAT_W] of the sample's bit string, which is cut into
// WORDS = ceil(FRAME_BEATS*BEAT_W / DATA_W) words, word w = bits [w*DATA_W +: DATA_W] (the last word
// zero-padded). Every sample starts on a fresh word. m_last is high on a sample's last beat.
//
// Inside: a buffer of A + B - 1 units of UNIT_W = gcd(DATA_W, BEAT_W) bits (A = DATA_W/UNIT_W,
// B = BEAT_W/UNIT_W) holding `cnt` valid units from unit 0. A beat leaves from units [0, B) when
// cnt >= B; a word enters at unit `kept` (the count after this cycle's beat) when kept < B, so a
// unit takes its word from at most min(A, B) places: the write is an enable when A or B is 1.
// After a sample's last beat the padding left in the buffer is dropped (cnt = 0).
// One word in and one beat out per cycle at most; m_valid comes from registers only.
module axis_gearbox #(
    parameter integer DATA_W = 64,
    parameter integer BEAT_W = 64,
    parameter integer UNIT_W = 64,
    parameter integer FRAME_BEATS = 1,
    parameter integer WORDS = 1
) (
    input clk,
    input rst,
    input [DATA_W-1:0] s_data,
    input s_valid,
    output s_ready,
    output [BEAT_W-1:0] m_data,
    output m_valid,
    output m_last,
    input m_ready,
    output frame_start,              // the next beat to leave is a sample's first
    output [15:0] word_phase         // words of the current sample taken so far (0: aligned)
);
    localparam integer A = DATA_W / UNIT_W;
    localparam integer B = BEAT_W / UNIT_W;
    localparam integer CAP = A + B - 1;
    localparam integer CW = $clog2(CAP + 1);
    localparam integer FW = FRAME_BEATS > 1 ? $clog2(FRAME_BEATS) : 1;
    localparam integer WW = WORDS > 1 ? $clog2(WORDS) : 1;
    localparam [CW-1:0] B_UNITS = B[CW-1:0];
    localparam [CW-1:0] A_UNITS = A[CW-1:0];
    localparam integer LAST_BEAT_I = FRAME_BEATS - 1;
    localparam integer LAST_WORD_I = WORDS - 1;
    localparam [FW-1:0] LAST_BEAT = LAST_BEAT_I[FW-1:0];
    localparam [WW-1:0] LAST_WORD = LAST_WORD_I[WW-1:0];

    reg [CAP*UNIT_W-1:0] buffer;
    reg [CAP*UNIT_W-1:0] next_buffer;
    reg [CW-1:0] cnt;
    reg [FW-1:0] beat;
    reg [WW-1:0] word;

    wire last = beat == LAST_BEAT;
    wire emit = m_valid && m_ready;
    wire [CW-1:0] kept = emit ? (last ? {CW{1'b0}} : cnt - B_UNITS) : cnt;
    wire load = s_valid && s_ready;
    // the shift only matters while units above B are valid; with A = 1 the buffer is one beat
    wire [CAP*UNIT_W-1:0] shifted = emit ? buffer >> BEAT_W : buffer;

    assign m_valid = cnt >= B_UNITS;
    assign m_data = buffer[BEAT_W-1:0];
    assign m_last = last;
    assign s_ready = kept < B_UNITS;
    assign frame_start = beat == {FW{1'b0}};
    assign word_phase = {{(16 - WW){1'b0}}, word};

    integer c, j;
    always @* begin
        next_buffer = shifted;
        for (c = 0; c < B; c = c + 1)
            if (load && kept == c[CW-1:0])
                for (j = 0; j < A; j = j + 1)
                    next_buffer[(c + j)*UNIT_W +: UNIT_W] = s_data[j*UNIT_W +: UNIT_W];
    end

    always @(posedge clk) begin
        if (rst) begin
            cnt <= {CW{1'b0}};
            beat <= {FW{1'b0}};
            word <= {WW{1'b0}};
        end else begin
            cnt <= kept + (load ? A_UNITS : {CW{1'b0}});
            if (emit) beat <= last ? {FW{1'b0}} : beat + 1'b1;
            if (load) word <= word == LAST_WORD ? {WW{1'b0}} : word + 1'b1;
        end
        buffer <= next_buffer;
    end
endmodule
