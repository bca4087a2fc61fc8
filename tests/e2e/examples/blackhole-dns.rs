//! A DNS server that receives every query and answers none, for tests/perf/dns-outage:
//! prints its port, then holds its sockets until killed.

fn main() -> std::process::ExitCode {
    match palisade_e2e::dns::BlackHole::new() {
        Ok(hole) => {
            println!("{}", hole.port);
            loop {
                std::thread::park();
            }
        }
        Err(e) => {
            eprintln!("blackhole-dns: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
