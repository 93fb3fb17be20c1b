//! `plot` and `hist`: the SVG files they write (deterministic content: the
//! title, the legend names, one line per series) and their exact text
//! renderings, and the reports for bad input.

use dp::SharedBuffer;
use std::path::PathBuf;

/// A fresh scratch folder for this test's files.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dp_plot_test_{}_{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch folder");
    d
}

/// Runs `src`; returns (output, error report).
fn run(src: &str) -> (String, Option<String>) {
    let out = SharedBuffer::default();
    let mut interp = dp::Interp::new(Box::new(out.clone()));
    let r = interp.run_source("<test>", src, None);
    let err = r.err().map(|e| e.iter().map(|d| interp.render(d, false)).collect());
    (out.contents(), err)
}

#[test]
fn plot_writes_an_svg_with_title_legend_and_one_line_per_series() {
    let dir = scratch("svg");
    let file = dir.join("curves.svg");
    let (out, err) = run(&format!(
        "let p = plot(range(1, 6), {{loss: [5, 4, 3, 2.5, 2], accuracy: (0.1, 0.5, 0.7, 0.8, 0.9)}}, \
         title=\"training\", xlabel=\"epoch\", ylabel=\"value\", file=\"{}\"); print(p);",
        file.display()
    ));
    assert_eq!(err, None);
    assert_eq!(out.trim(), file.display().to_string());
    let svg = std::fs::read_to_string(&file).expect("the file was written");
    assert!(svg.starts_with("<svg"), "{}", &svg[..100]);
    for text in ["\ntraining\n", "\nepoch\n", "\nvalue\n", "\nloss\n", "\naccuracy\n"] {
        assert!(svg.contains(text), "the SVG should contain {text}");
    }
    // Each series is one polyline of width 2, and so is its legend sample.
    assert_eq!(svg.matches("stroke-width=\"2\"").count(), 4);
    // The same call writes the same file.
    run(&format!(
        "plot(range(1, 6), {{loss: [5, 4, 3, 2.5, 2], accuracy: (0.1, 0.5, 0.7, 0.8, 0.9)}}, \
         title=\"training\", xlabel=\"epoch\", ylabel=\"value\", file=\"{}\");",
        dir.join("again.svg").display()
    ));
    assert_eq!(std::fs::read_to_string(dir.join("again.svg")).ok(), Some(svg));
    // Scatter plots draw points, log scales and histograms write files too.
    let (_, err) = run(&format!(
        "plot((1, 10, 100), (2, 20, 200), style=\"scatter\", logx=true, logy=true, file=\"{0}/s.svg\");\n\
         hist(tensor([[1.0, 2.0], [2.0, 3.0]]), bins=3, title=\"counts\", file=\"{0}/h.svg\");",
        dir.display()
    ));
    assert_eq!(err, None);
    assert!(std::fs::read_to_string(dir.join("s.svg")).unwrap().contains("<circle"));
    assert!(std::fs::read_to_string(dir.join("h.svg")).unwrap().contains("counts"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn text_rendering_of_a_line_plot() {
    let dir = scratch("text");
    let (out, err) = run(&format!(
        "plot((0, 1, 2, 3), {{up: (0, 1, 2, 3)}}, title=\"t\", xlabel=\"x\", ylabel=\"y\", text=true, file=\"{}/a.svg\");",
        dir.display()
    ));
    assert_eq!(err, None);
    let expected = EXPECTED_LINE;
    assert_eq!(out, expected, "got:\n{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn text_rendering_of_a_histogram() {
    let dir = scratch("hist");
    // np.histogram([1, 2, 2, 3, 3, 3, 4], bins=3): counts [1, 2, 4] over [1, 2), [2, 3), [3, 4].
    let (out, err) = run(&format!(
        "hist((1, 2, 2, 3, 3, 3, 4), bins=3, text=true, file=\"{}/h.svg\");",
        dir.display()
    ));
    assert_eq!(err, None);
    assert_eq!(out, EXPECTED_HIST, "got:\n{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_is_reported_at_the_argument() {
    let cases = [
        (
            "plot((1, 2), (1, 2, 3), file=\"x.svg\")",
            "y has 3 values but x has 2",
            "(1, 2, 3)",
        ),
        ("plot((), file=\"x.svg\")", "y is empty", "()"),
        (
            "plot((1, 2), {a: (1, -2)}, logy=true, file=\"x.svg\")",
            "a log y axis cannot show y = -2.0 (index 1 of series \"a\")",
            "{a: (1, -2)}",
        ),
        (
            "plot((0, 1), (1, 2), logx=true, file=\"x.svg\")",
            "a log x axis cannot show x = 0.0 (index 0 of x)",
            "(0, 1)",
        ),
        (
            "plot((1, 2), style=\"bar\", file=\"x.svg\")",
            "style \"line\" or \"scatter\"",
            "style=\"bar\"",
        ),
        (
            "plot(zeros((2, 2)), file=\"x.svg\")",
            "1-d tensor or a tuple of numbers",
            "zeros((2, 2))",
        ),
        ("hist((), file=\"x.svg\")", "no finite values", "()"),
        ("hist((1, 2), bins=0, file=\"x.svg\")", "1 to 10000 bins", "bins=0"),
    ];
    for (src, message, underlined) in cases {
        let (_, err) = run(src);
        let err = err.unwrap_or_else(|| panic!("{src} should fail"));
        assert!(err.contains(message), "{src}: {err}");
        // The report points into the call, under the argument at fault.
        let col = src.find(underlined).expect("the argument is in the source") + 1;
        assert!(
            err.contains(&format!("<test>:1:{col} ]")),
            "{src} should point at column {col}: {err}"
        );
    }
}

#[test]
fn a_missing_folder_is_reported() {
    let (_, err) = run("plot((1, 2), file=\"/nonexistent_dp_dir/x.svg\")");
    let err = err.expect("an error");
    assert!(
        err.contains("cannot write") && err.contains("does not create directories"),
        "{err}"
    );
}

/// Generated by the renderer and checked by eye: a straight line from (0, 0) to (3, 3).
const EXPECTED_LINE: &str = r#"                              t
y
3 ┤                                                        ⣀⠤⠒⠉
  │                                                    ⣀⠤⠒⠉    
  │                                                ⣀⠤⠒⠉        
  │                                            ⣀⠤⠒⠉            
  │                                        ⣀⠤⠒⠉                
  │                                    ⣀⠤⠒⠉                    
  │                                ⣀⠤⠒⠉                        
  │                            ⣀⠤⠒⠉                            
  │                        ⣀⠤⠒⠉                                
  │                   ⢀⣀⠤⠒⠉                                    
  │               ⢀⡠⠔⠊⠁                                        
  │           ⢀⡠⠔⠊⠁                                            
  │       ⢀⡠⠔⠊⠁                                                
  │   ⢀⡠⠔⠊⠁                                                    
0 ┤⡠⠔⠊⠁                                                        
  └────────────────────────────────────────────────────────────
  0                                                           3
                               x
  series: up
"#;
/// Counts 1, 2 and 4 scaled to the 8 rows of the tallest: 2, 4 and 8 rows.
const EXPECTED_HIST: &str = r#"4 ┤                                        ████████████████████
  │                                        ████████████████████
  │                                        ████████████████████
  │                                        ████████████████████
  │                    ████████████████████████████████████████
  │                    ████████████████████████████████████████
  │████████████████████████████████████████████████████████████
0 ┤████████████████████████████████████████████████████████████
  └────────────────────────────────────────────────────────────
  1                                                           4
"#;
