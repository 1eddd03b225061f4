//! Build script of the six functions: a release binary is linked as a position-dependent
//! executable (`-no-pie`), so it carries no `.rela.dyn` (about 1.1 MB of relocations the
//! loader would apply at every cold start; docs/bench.md). A link argument rather than
//! rustflags (`-C relocation-model=static`): those fail on a dependency built as a cdylib too
//! (crc-fast, under the S3 client), would reach the tests' builds, and are replaced by the
//! ones cargo-lambda passes (`RUSTFLAGS`, or `build.rustflags` in newer versions).
fn main() {
    let linux = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux");
    if linux && std::env::var("PROFILE").as_deref() == Ok("release") {
        println!("cargo::rustc-link-arg-bins=-no-pie");
    }
    println!("cargo::rerun-if-changed=../no-pie.rs");
}
