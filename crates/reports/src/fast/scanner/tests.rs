use super::*;

#[test]
fn quote_or_backslash_finds_the_first_of_either() {
    let reference = |b: &[u8]| b.iter().position(|&c| c == b'"' || c == b'\\');
    for text in ["", "a", "\"", "abc\\def\"", "0123456789abcdef\"x", "é\u{100}ü\\", "plain text here"] {
        for skip in 0..text.len() {
            let bytes = &text.as_bytes()[skip..];
            assert_eq!(quote_or_backslash(bytes), reference(bytes), "{text:?} from {skip}");
        }
    }
    // Every byte value at every position of a word and of the tail, alone and after another.
    for len in [8, 16, 11] {
        for at in 0..len {
            for value in 0..=255u8 {
                for before in [b'x', 0, b'"' - 1, b'\\' + 1, 0xff] {
                    let mut bytes = vec![b'x'; len];
                    bytes[at] = value;
                    if at > 0 {
                        bytes[at - 1] = before;
                    }
                    assert_eq!(quote_or_backslash(&bytes), reference(&bytes), "{bytes:?}");
                }
            }
        }
    }
}

#[test]
fn control_bytes_are_found_in_any_position() {
    for len in 0..24 {
        for at in 0..len {
            for byte in [0u8, 0x09, 0x1f] {
                let mut bytes = vec![b'a'; len];
                bytes[at] = byte;
                assert!(has_control_byte(&bytes), "{len} {at} {byte}");
            }
            let mut bytes = vec![0x20u8; len];
            bytes[at] = 0xff;
            assert!(!has_control_byte(&bytes));
        }
    }
    assert!(!has_control_byte("ünïcode 日本 \u{7f}".as_bytes()));
}
