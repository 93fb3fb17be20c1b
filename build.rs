//! Compiles the LALRPOP grammar in `grammar/` into the parser module.
fn main() {
    lalrpop::Configuration::new()
        .set_in_dir("grammar")
        .process()
        .expect("the grammar in grammar/ must compile");
    println!("cargo:rerun-if-changed=grammar");
}
