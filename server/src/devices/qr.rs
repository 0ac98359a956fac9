//! QR codes for the pairing payload: an SVG for the web console and a text rendering for
//! `relay-server` output in a terminal.

use qrcode::render::svg;
use qrcode::{Color, QrCode};

/// Smallest side of the SVG in pixels: large enough for a phone camera at arm's length even
/// for a short payload (the renderer scales modules up to an integer size at or above this).
const SVG_MIN_SIDE_PX: u32 = 256;

/// Quiet zone (light border) in modules. The QR spec asks for 4; the terminal uses the same so
/// the code scans reliably even when the terminal's own background is the same colour as the
/// dark modules.
const QUIET_ZONE: usize = 4;

/// Why a QR code couldn't be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    #[error("the pairing payload is {len} bytes, too long to fit in a QR code")]
    TooLong { len: usize },
    #[error("the pairing payload can't be encoded as a QR code: {reason}")]
    Encode { len: usize, reason: String },
}

fn encode(payload: &str) -> Result<QrCode, QrError> {
    let len = payload.len();
    QrCode::new(payload.as_bytes()).map_err(|e| match e {
        qrcode::types::QrError::DataTooLong => QrError::TooLong { len },
        other => QrError::Encode { len, reason: other.to_string() },
    })
}

/// The QR code as a standalone `<svg …>` element: dark modules on a white background with a
/// quiet zone, at least 256×256 px, with no XML declaration so it can be inlined in HTML.
pub fn svg(payload: &str) -> Result<String, QrError> {
    let code = encode(payload)?;
    let image = code
        .render::<svg::Color<'_>>()
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .quiet_zone(true)
        .min_dimensions(SVG_MIN_SIDE_PX, SVG_MIN_SIDE_PX)
        .build();
    // The renderer prefixes an `<?xml …?>` declaration, which is invalid inside an HTML document.
    Ok(match image.find("<svg") {
        Some(start) => image[start..].to_owned(),
        None => image,
    })
}

/// The QR code drawn with Unicode half blocks, two module rows per text line, lines joined with
/// '\n' (no trailing newline). Every line has the same width in characters.
///
/// Light modules (and the quiet zone) are drawn as blocks and dark modules as blanks: the
/// blocks take the terminal's text colour, and on the dark-background terminals most operators
/// use that makes the code appear with the normal polarity (dark modules on a light square).
/// On a light-background terminal the code appears inverted; the scanners phones use (ZXing,
/// ML Kit, the iOS camera) also read inverted codes, and the drawn quiet zone keeps a frame
/// around it either way. Drawing dark modules as blocks would instead leave the quiet zone as
/// bare dark background on a dark terminal, which many scanners can't find.
pub fn terminal(payload: &str) -> Result<String, QrError> {
    let code = encode(payload)?;
    let size = code.width() + 2 * QUIET_ZONE;
    let colors = code.to_colors();
    // Light outside the symbol: that's the quiet zone.
    let is_light = |x: usize, y: usize| -> bool {
        let (Some(cx), Some(cy)) = (x.checked_sub(QUIET_ZONE), y.checked_sub(QUIET_ZONE)) else {
            return true;
        };
        if cx >= code.width() || cy >= code.width() {
            return true;
        }
        colors.get(cy * code.width() + cx) != Some(&Color::Dark)
    };
    let lines: Vec<String> = (0..size)
        .step_by(2)
        .map(|y| {
            (0..size)
                .map(|x| {
                    // An odd total height leaves the last line's lower half outside the code:
                    // it stays blank (terminal background), like the area around the code.
                    let bottom = y + 1 < size && is_light(x, y + 1);
                    half_block(is_light(x, y), bottom)
                })
                .collect()
        })
        .collect();
    Ok(lines.join("\n"))
}

/// The character whose upper/lower half is filled when that module is drawn.
fn half_block(top: bool, bottom: bool) -> char {
    match (top, bottom) {
        (true, true) => '█',
        (true, false) => '▀',
        (false, true) => '▄',
        (false, false) => ' ',
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAYLOAD: &str = r#"{"v":1,"url":"https://relay.example:8443","code":"K7QX-93MD","fp":"3f2a9c"}"#;

    #[test]
    fn svg_is_an_inline_svg_with_background_and_modules() {
        let image = svg(PAYLOAD).unwrap();
        assert!(image.starts_with("<svg"), "{}", &image[..60]);
        assert!(image.ends_with("</svg>"));
        assert!(image.contains("<rect") && image.contains("fill=\"#ffffff\""));
        assert!(image.contains("<path") && image.contains("fill=\"#000000\""));
    }

    #[test]
    fn svg_is_at_least_256_px_even_for_a_tiny_payload() {
        let image = svg("a").unwrap();
        let width: u32 = image.split("width=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
        assert!(width >= SVG_MIN_SIDE_PX, "width {width}");
    }

    #[test]
    fn terminal_lines_are_square_and_half_height() {
        let text = terminal(PAYLOAD).unwrap();
        let size = QrCode::new(PAYLOAD.as_bytes()).unwrap().width() + 2 * QUIET_ZONE;
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), size.div_ceil(2));
        assert!(lines.iter().all(|l| l.chars().count() == size), "ragged lines");
        assert!(text.chars().all(|c| matches!(c, '█' | '▀' | '▄' | ' ' | '\n')));
    }

    #[test]
    fn terminal_quiet_zone_is_drawn_light() {
        let text = terminal(PAYLOAD).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // The first QUIET_ZONE / 2 lines are all quiet zone: fully drawn.
        assert!(lines[..QUIET_ZONE / 2].iter().all(|l| l.chars().all(|c| c == '█')));
        // The symbol's size is odd, so the last line is the quiet zone's last row over blank.
        assert!(lines.last().unwrap().chars().all(|c| c == '▀'));
        // Every line starts and ends with quiet zone columns.
        for line in &lines[..lines.len() - 1] {
            let chars: Vec<char> = line.chars().collect();
            assert!(chars[..QUIET_ZONE].iter().chain(&chars[chars.len() - QUIET_ZONE..]).all(|&c| c == '█'));
        }
    }

    #[test]
    fn terminal_draws_the_finder_pattern_inverted() {
        let text = terminal(PAYLOAD).unwrap();
        let lines: Vec<Vec<char>> = text.lines().map(|l| l.chars().collect()).collect();
        // Module rows 4 and 5 (the finder's dark top edge and the light ring inside it) share line 2.
        // At column 4 the finder is dark on both rows → blank; at column 5 dark then light → '▄'.
        assert_eq!(lines[2][QUIET_ZONE], ' ');
        assert_eq!(lines[2][QUIET_ZONE + 1], '▄');
    }

    #[test]
    fn too_long_payload_is_an_error() {
        let payload = "x".repeat(3000);
        assert_eq!(svg(&payload), Err(QrError::TooLong { len: 3000 }));
        assert_eq!(terminal(&payload), Err(QrError::TooLong { len: 3000 }));
        assert!(QrError::TooLong { len: 3000 }.to_string().contains("3000 bytes"));
    }
}
