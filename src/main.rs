fn main() {
    std::process::exit(jube::cli::run(std::env::args_os()));
}
