//! The README's example: squares of borrowed values, in order, with a
//! closure that borrows a local; a failure is reported with its item.
use parmapper::{Options, Error};

fn main() -> Result<(), Error> {
    let values: Vec<f64> = (0..1000).map(|k| k as f64 * 0.5).collect();
    let offset = 1.0;
    parmapper::scope(|s| {
        let opts = Options::new().processes(2);
        for (i, r) in s.map_with(&opts, &values, |&x| x * x + offset)?.enumerate().take(5) {
            println!("{}: {}", i, r?);
        }
        Ok(())
    })
}
