//! Whole-UPDATE decode and encode: one UPDATE packed with type-2 routes (as many as fit in
//! 4096 octets), and a stream of 1,000,000 type-2 routes packed into UPDATEs by
//! `pack_evpn_updates` then decoded back (framing, attributes, RFC 7606 verdict included).
//! Criterion reports routes/s as elements/s.
//!
//! Run: `cargo bench -p bgp --bench update`

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use bgp::packet::evpn::{Esi, EvpnNlri, Label, MacIpAdvertisement};
use bgp::packet::extcomm::ExtendedCommunity;
use bgp::packet::types::{MacAddress, RouteDistinguisher};
use bgp::packet::{
    pack_evpn_updates, AsPath, Attribute, DecodeOptions, Message, MpNlri, Origin, PathAttribute,
    Verdict,
};
use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn routes(n: u32) -> Vec<EvpnNlri> {
    (0..n)
        .map(|i| {
            let [_, a, b, c] = i.to_be_bytes();
            EvpnNlri::MacIp(MacIpAdvertisement {
                rd: RouteDistinguisher::Ipv4 {
                    addr: Ipv4Addr::new(10, 0, 0, 1),
                    number: 2,
                },
                esi: Esi::ZERO,
                ethernet_tag: 0,
                mac_len: 48,
                mac: MacAddress([0x02, 0x00, 0x00, a, b, c]),
                ip: Some(IpAddr::V4(Ipv4Addr::new(10, a, b, c))),
                label1: Label::from_vni(100),
                label2: None,
            })
        })
        .collect()
}

fn attrs() -> Vec<PathAttribute> {
    vec![
        PathAttribute::new(Attribute::Origin(Origin::Igp)),
        PathAttribute::new(Attribute::AsPath(AsPath::sequence(vec![65001]))),
        PathAttribute::new(Attribute::LocalPref(100)),
        PathAttribute::new(Attribute::ExtendedCommunities(vec![
            ExtendedCommunity::from_bytes([3, 0x0c, 0, 0, 0, 0, 0, 8]),
            ExtendedCommunity::from_bytes([0, 2, 0xfd, 0xe9, 0, 0, 0, 100]),
        ])),
    ]
}

/// Decodes every message, checks the verdict, and counts routes.
fn decode_all(msgs: &[BytesMut], opts: &DecodeOptions) -> usize {
    let mut n = 0;
    for m in msgs {
        let Ok(Message::Update(u)) = Message::decode(m, opts) else {
            panic!("not an UPDATE");
        };
        assert!(matches!(u.verdict(), Verdict::Accept));
        if let Some(r) = u.mp_reach() {
            if let MpNlri::Evpn(list) = &r.nlri {
                n += list.len();
            }
        }
    }
    n
}

fn bench(c: &mut Criterion) {
    let opts = DecodeOptions::default();
    let nh = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    let attrs = attrs();

    let full = routes(200);
    let one = pack_evpn_updates(&attrs, nh, &full, &opts).unwrap();
    let per_update = one[0].len();
    let in_first = decode_all(&one[..1], &opts);
    let mut g = c.benchmark_group("update_4096");
    g.throughput(Throughput::Elements(in_first as u64));
    g.bench_function("decode", |b| {
        b.iter(|| decode_all(black_box(&one[..1]), &opts))
    });
    g.bench_function("encode", |b| {
        b.iter(|| pack_evpn_updates(&attrs, nh, black_box(&full[..in_first]), &opts).unwrap())
    });
    g.finish();
    eprintln!("one UPDATE: {per_update} octets, {in_first} type-2 routes");

    const N: u32 = 1_000_000;
    let list = routes(N);
    let msgs = pack_evpn_updates(&attrs, nh, &list, &opts).unwrap();
    assert_eq!(decode_all(&msgs, &opts), N as usize);
    let mut g = c.benchmark_group("stream_1m_type2");
    g.sample_size(10);
    g.throughput(Throughput::Elements(u64::from(N)));
    g.bench_function("decode", |b| b.iter(|| decode_all(black_box(&msgs), &opts)));
    g.bench_function("encode", |b| {
        b.iter(|| pack_evpn_updates(&attrs, nh, black_box(&list), &opts).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
