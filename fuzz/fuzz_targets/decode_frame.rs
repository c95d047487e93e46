//! Fuzzes the TCP frame decoder with untrusted bytes: `decode_frame` must never panic, and
//! whatever it accepts must be canonical (re-encode to exactly the input), within every
//! cap, and (for a sync reply) one chain.

#![no_main]

use chainlab::net::{decode_frame, encode_frame, Frame, MAX_FRAME_BYTES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(frame) = decode_frame(data) else {
        return;
    };
    assert!(data.len() <= MAX_FRAME_BYTES);
    assert_eq!(
        encode_frame(&frame),
        data,
        "an accepted frame does not re-encode to its bytes"
    );
    if let Frame::Msg(m) = &frame {
        assert!(m.check_caps().is_ok(), "an accepted frame breaks a cap");
        assert!(
            m.check_links().is_ok(),
            "an accepted sync reply does not chain"
        );
    }
});
