//! Decode and encode of 100,000 type-2 MAC+IPv4 NLRI in one buffer (what a full-table
//! UPDATE burst from a large fabric looks like). Criterion reports routes/s as elements/s.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use bgp::packet::evpn::{decode_nlri_list, Esi, EvpnNlri, Label, MacIpAdvertisement};
use bgp::packet::types::{MacAddress, RouteDistinguisher};
use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const ROUTES: u32 = 100_000;

fn routes() -> Vec<EvpnNlri> {
    (0..ROUTES)
        .map(|i| {
            let [_, a, b, c] = i.to_be_bytes();
            EvpnNlri::MacIp(MacIpAdvertisement {
                rd: RouteDistinguisher::Ipv4 {
                    addr: Ipv4Addr::new(10, 0, 0, (i % 32) as u8 + 1),
                    number: (i % 100) as u16 + 1,
                },
                esi: Esi::ZERO,
                ethernet_tag: 0,
                mac_len: 48,
                mac: MacAddress([0x02, 0x00, 0x00, a, b, c]),
                ip: Some(IpAddr::V4(Ipv4Addr::new(10, a, b, c))),
                label1: Label::from_vni(10_000 + i % 100),
                label2: None,
            })
        })
        .collect()
}

fn encode_all(list: &[EvpnNlri], out: &mut BytesMut) {
    for n in list {
        n.encode(out);
    }
}

fn bench(c: &mut Criterion) {
    let list = routes();
    let mut wire = BytesMut::with_capacity(list.len() * 39);
    encode_all(&list, &mut wire);
    assert_eq!(
        wire.len(),
        list.len() * 39,
        "37-octet value + type + length"
    );
    assert_eq!(decode_nlri_list(&wire).as_deref(), Ok(&list[..]));

    let mut g = c.benchmark_group("evpn_nlri_type2_mac_ipv4_100k");
    g.throughput(Throughput::Elements(u64::from(ROUTES)));
    g.bench_function("decode", |b| {
        b.iter(|| decode_nlri_list(black_box(&wire)).map(|v| v.len()))
    });
    let mut out = BytesMut::with_capacity(wire.len());
    g.bench_function("encode", |b| {
        b.iter(|| {
            out.clear();
            encode_all(black_box(&list), &mut out);
            out.len()
        })
    });
    g.bench_function("key", |b| {
        b.iter(|| {
            black_box(&list)
                .iter()
                .map(|n| n.key())
                .fold(0u8, |a, k| a ^ k.as_bytes()[36])
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
