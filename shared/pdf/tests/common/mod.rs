//! Reading a PDF back as a person would: its text (`pdftotext`), its first page as an image
//! (`pdftoppm`), its fonts (`pdffonts`); all three are poppler-utils, installed by
//! `scripts/test`.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// Writes the PDF to a temporary file named after its content.
fn temp_file(pdf: &[u8], ext: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("renewals-pdf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{:016x}.{ext}", fnv(pdf)));
    std::fs::write(&path, pdf).unwrap();
    path
}

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd
        .output()
        .expect("poppler-utils (Debian: poppler-utils; scripts/test installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The text of a PDF, in reading order, with runs of spaces collapsed.
pub fn text_of(pdf: &[u8]) -> String {
    let path = temp_file(pdf, "pdf");
    let out = run(Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(&path)
        .arg("-"));
    let _ = std::fs::remove_file(&path);
    let text = String::from_utf8(out).unwrap().replace('\u{a0}', " ");
    text.lines()
        .map(|l| {
            l.split(' ')
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

/// Every QR code on page `page` rendered at `dpi` (anti-aliased, as a viewer shows it),
/// decoded: the texts they hold.
pub fn qr_codes_on_page(pdf: &[u8], page: usize, dpi: u32) -> Vec<String> {
    let path = temp_file(pdf, "pdf");
    let prefix = path.with_extension("");
    run(Command::new("pdftoppm")
        .args(["-png", "-r", &dpi.to_string(), "-singlefile"])
        .args(["-f", &page.to_string(), "-l", &page.to_string()])
        .arg(&path)
        .arg(&prefix));
    let png_path = prefix.with_extension("png");
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&png_path).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(&png_path);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let channels = match info.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::Rgb => 3,
        other => panic!("pdftoppm wrote {other:?}"),
    };
    let (width, height) = (info.width as usize, info.height as usize);
    let stride = info.line_size;
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| {
        let px = &buf[y * stride + x * channels..][..channels];
        // Luma of an RGB pixel (ITU-R BT.601 weights); grey is itself.
        let sum: u32 = match px {
            [g] => u32::from(*g) * 1000,
            [r, g, b] => 299 * u32::from(*r) + 587 * u32::from(*g) + 114 * u32::from(*b),
            _ => unreachable!(),
        };
        (sum / 1000) as u8
    });
    image
        .detect_grids()
        .into_iter()
        .map(|grid| grid.decode().expect("a QR code that decodes").1)
        .collect()
}

/// `pdffonts` rows: (name, embedded, subset) for each font of the PDF.
pub fn fonts_of(pdf: &[u8]) -> Vec<(String, bool, bool)> {
    let path = temp_file(pdf, "pdf");
    let out = String::from_utf8(run(Command::new("pdffonts").arg(&path))).unwrap();
    let _ = std::fs::remove_file(&path);
    // name type encoding emb sub uni object ID: the three yes/no columns end each row
    // before the object number and generation.
    out.lines()
        .skip(2)
        .map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let n = cols.len();
            (
                cols[0].to_string(),
                cols[n - 5] == "yes",
                cols[n - 4] == "yes",
            )
        })
        .collect()
}

/// A word as `pdftotext -bbox` places it: page (from 1), text and box in points.
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    pub page: usize,
    pub text: String,
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
}

pub fn words_of(pdf: &[u8]) -> Vec<Word> {
    let path = temp_file(pdf, "pdf");
    let out = String::from_utf8(run(Command::new("pdftotext")
        .args(["-bbox", "-enc", "UTF-8"])
        .arg(&path)
        .arg("-")))
    .unwrap();
    let _ = std::fs::remove_file(&path);
    let attr = |line: &str, name: &str| -> f32 {
        let start = line.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        line[start..].split('"').next().unwrap().parse().unwrap()
    };
    let mut page = 0;
    let mut words = Vec::new();
    for line in out.lines().map(str::trim) {
        if line.starts_with("<page ") {
            page += 1;
        } else if line.starts_with("<word ") {
            let text = line[line.find('>').unwrap() + 1..line.rfind("</word>").unwrap()]
                .replace("&amp;", "&");
            words.push(Word {
                page,
                text,
                x0: attr(line, "xMin"),
                y0: attr(line, "yMin"),
                x1: attr(line, "xMax"),
                y1: attr(line, "yMax"),
            });
        }
    }
    words
}

/// Pairs of words that overlap on the page (by more than a hair: boxes of neighbouring
/// lines may touch).
pub fn overlapping_words(pdf: &[u8]) -> Vec<(Word, Word)> {
    let words = words_of(pdf);
    let mut pairs = Vec::new();
    for (i, a) in words.iter().enumerate() {
        for b in &words[i + 1..] {
            let overlap_x = a.x1.min(b.x1) - a.x0.max(b.x0);
            let overlap_y = a.y1.min(b.y1) - a.y0.max(b.y0);
            if a.page == b.page && overlap_x > 0.5 && overlap_y > 0.5 {
                pairs.push((a.clone(), b.clone()));
            }
        }
    }
    pairs
}
