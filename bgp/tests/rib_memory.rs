//! The RIB's memory per route, measured with a counting allocator (own test binary so the
//! allocator counts nothing else): 200k EVPN type-2 routes from one peer must take at most
//! 150 bytes each, everything included (table, index, interned sets).

// The bench uses more of the fixture than this test does.
#[allow(dead_code)]
#[path = "../benches/rib_fixture.rs"]
mod fixture;

#[global_allocator]
static ALLOC: fixture::Counting = fixture::Counting;

#[test]
fn evpn_routes_take_at_most_150_bytes_each() {
    const ROUTES: u32 = 200_000;
    let msgs = fixture::messages(ROUTES);
    let before = fixture::live_bytes();
    let (mut rib, peer) = fixture::rib();
    assert_eq!(fixture::load(&mut rib, peer, &msgs), ROUTES as usize);
    let per_route = (fixture::live_bytes() - before) as f64 / f64::from(ROUTES);
    println!("{per_route:.1} bytes/route");
    assert!(per_route <= 150.0, "{per_route:.1} bytes/route");
    assert_eq!(
        rib.attr_sets(),
        (fixture::VNIS * fixture::VTEPS) as usize,
        "one interned set per distinct attribute set"
    );
    drop(rib);
    // Slack for what the harness and stdout allocate meanwhile (buffers, not routes).
    let left = fixture::live_bytes().saturating_sub(before);
    assert!(left < 64 * 1024, "{left} bytes not freed with the RIB");
}
