#!/usr/bin/env python3
"""Split the BGP messages out of a pcap and describe them.

Input (stdin): tshark -T fields output, tab separated:
  frame.number frame.time_relative ip.src tcp.srcport ip.dst tcp.dstport tcp.seq_raw tcp.len
  tcp.payload
Each TCP direction is reassembled by sequence number (retransmitted bytes are dropped, a gap is
an error), then split on the BGP length field: messages spanning segments come out whole.

Usage: golden_hex.py hex NAMES   -> .hex file: distinct messages, first-seen order, one per line,
                                     preceded by '#' comment lines describing every field
        golden_hex.py list NAMES  -> every message in order, one summary line each (README)
        golden_hex.py check NAMES -> sequences compared against tshark's own decode
NAMES: comma separated ip=name pairs, e.g. 10.255.1.0=spine,10.255.1.1=leaf1

This decoder is deliberately independent of the evpnd codec (it is only for describing the
captures); its readings were cross-checked against tshark -V (see README.md).
"""
import ipaddress
import struct
import sys

MSG_TYPES = {1: "OPEN", 2: "UPDATE", 3: "NOTIFICATION", 4: "KEEPALIVE", 5: "ROUTE-REFRESH"}
ATTR_NAMES = {1: "ORIGIN", 2: "AS_PATH", 3: "NEXT_HOP", 4: "MED", 5: "LOCAL_PREF",
              6: "ATOMIC_AGGREGATE", 7: "AGGREGATOR", 8: "COMMUNITIES", 9: "ORIGINATOR_ID",
              10: "CLUSTER_LIST", 14: "MP_REACH_NLRI", 15: "MP_UNREACH_NLRI",
              16: "EXTENDED_COMMUNITIES", 22: "PMSI_TUNNEL", 32: "LARGE_COMMUNITIES"}
CAP_NAMES = {1: "MP", 2: "ROUTE_REFRESH", 5: "EXTENDED_NEXTHOP", 6: "EXTENDED_MESSAGE", 64: "GRACEFUL_RESTART",
             65: "4OCTET_AS", 69: "ADD_PATH", 70: "ENHANCED_ROUTE_REFRESH", 71: "LLGR",
             73: "FQDN", 128: "ROUTE_REFRESH_OLD(128)"}


def die(msg):
    sys.exit(f"golden_hex.py: {msg}")


def ip(b):
    return str(ipaddress.ip_address(bytes(b)))


def mac(b):
    return ":".join(f"{x:02x}" for x in b)


def rd(b):
    t = struct.unpack(">H", b[0:2])[0]
    if t == 0:
        return "%d:%d" % struct.unpack(">HI", b[2:8])
    if t == 1:
        return "%s:%d" % (ip(b[2:6]), struct.unpack(">H", b[6:8])[0])
    if t == 2:
        return "%d:%d" % struct.unpack(">IH", b[2:8])
    return "type%d:%s" % (t, b[2:8].hex())


def vni(b):
    return int.from_bytes(b, "big")


def evpn_nlri(data):
    out = []
    i = 0
    while i < len(data):
        if i + 2 > len(data):
            die("truncated EVPN NLRI")
        rtype, ln = data[i], data[i + 1]
        b = data[i + 2:i + 2 + ln]
        if len(b) != ln:
            die("truncated EVPN NLRI body")
        i += 2 + ln
        if rtype == 2:
            iplen = b[29]
            ipb = b[30:30 + iplen // 8]
            labels = b[30 + iplen // 8:]
            s = (f"type-2 len={ln} rd={rd(b[0:8])} esi={b[8:18].hex()} "
                 f"ethtag={struct.unpack('>I', b[18:22])[0]} mac={mac(b[23:29])} "
                 f"iplen={iplen}" + (f" ip={ip(ipb)}" if iplen else "")
                 + f" label1={labels[0:3].hex()}(vni {vni(labels[0:3])})")
            if len(labels) > 3:
                s += f" label2={labels[3:6].hex()}(vni {vni(labels[3:6])})"
        elif rtype == 3:
            iplen = b[12]
            s = (f"type-3 len={ln} rd={rd(b[0:8])} ethtag={struct.unpack('>I', b[8:12])[0]} "
                 f"iplen={iplen} originator={ip(b[13:13 + iplen // 8])}")
        else:
            s = f"type-{rtype} len={ln} raw={b.hex()}"
        out.append(s)
    return out


def attrs(data):
    """Return list of (short, detail) per attribute."""
    out = []
    i = 0
    while i < len(data):
        flags, code = data[i], data[i + 1]
        if flags & 0x10:
            ln = struct.unpack(">H", data[i + 2:i + 4])[0]
            v = data[i + 4:i + 4 + ln]
            i += 4 + ln
        else:
            ln = data[i + 2]
            v = data[i + 3:i + 3 + ln]
            i += 3 + ln
        if len(v) != ln:
            die("truncated attribute")
        name = ATTR_NAMES.get(code, f"ATTR{code}")
        d = ""
        if code == 1:
            d = ["IGP", "EGP", "INCOMPLETE"][v[0]] if v[0] < 3 else str(v[0])
        elif code == 2:
            segs = []
            j = 0
            while j < len(v):
                st, cnt = v[j], v[j + 1]
                asns = struct.unpack(f">{cnt}I", v[j + 2:j + 2 + 4 * cnt])
                segs.append(("SEQ" if st == 2 else "SET" if st == 1 else f"T{st}")
                            + "[" + " ".join(map(str, asns)) + "]")
                j += 2 + 4 * cnt
            d = " ".join(segs) if segs else "(empty)"
        elif code in (4, 5):
            d = str(struct.unpack(">I", v)[0])
        elif code in (3, 9):
            d = ip(v)
        elif code == 10:
            d = " ".join(ip(v[k:k + 4]) for k in range(0, len(v), 4))
        elif code == 14:
            afi, safi, nhl = struct.unpack(">HBB", v[0:4])
            nh = v[4:4 + nhl]
            nlri = v[4 + nhl + 1:]
            d = f"afi={afi} safi={safi} nh_len={nhl} nh={ip(nh)} reserved={v[4 + nhl]}"
            if afi == 25 and safi == 70:
                d += "".join(f"\n    reach {n}" for n in evpn_nlri(nlri))
        elif code == 15:
            afi, safi = struct.unpack(">HB", v[0:3])
            d = f"afi={afi} safi={safi}"
            if afi == 25 and safi == 70:
                n = evpn_nlri(v[3:])
                d += "".join(f"\n    unreach {x}" for x in n) if n else " (End-of-RIB)"
        elif code == 16:
            d = " ".join(v[k:k + 8].hex() for k in range(0, len(v), 8))
        elif code == 22:
            d = (f"flags={v[0]} tunnel_type={v[1]} label={v[2:5].hex()}(vni {vni(v[2:5])}) "
                 f"endpoint={ip(v[5:])}")
        else:
            d = v.hex()
        out.append((f"{name}({flags:#04x},len {ln})", d))
    return out


def caps(data):
    out = []
    i = 0
    while i < len(data):
        ptype, plen = data[i], data[i + 1]
        p = data[i + 2:i + 2 + plen]
        i += 2 + plen
        if ptype != 2:
            out.append(f"param{ptype}={p.hex()}")
            continue
        j = 0
        while j < len(p):
            c, cl = p[j], p[j + 1]
            v = p[j + 2:j + 2 + cl]
            j += 2 + cl
            n = CAP_NAMES.get(c, f"CAP{c}")
            if c == 1:
                afi, _, safi = struct.unpack(">HBB", v)
                n += f"({afi}/{safi})"
            elif c == 5:
                n += "(" + ",".join("%d/%d/nh-afi %d" % struct.unpack(">HHH", v[k:k + 6])
                                    for k in range(0, len(v), 6)) + ")"
            elif c == 65:
                n += f"({struct.unpack('>I', v)[0]})"
            elif c == 69:
                n += "(" + ",".join("%d/%d/%d" % struct.unpack(">HBB", v[k:k + 4])
                                    for k in range(0, len(v), 4)) + ")"
            elif c == 73:
                hl = v[0]
                dl = v[1 + hl]
                n += f"(host={v[1:1 + hl].decode()!r} domain={v[2 + hl:2 + hl + dl].decode()!r})"
            elif c == 64:
                fl = struct.unpack(">H", v[0:2])[0]
                n += f"(flags={fl >> 12:#x} time={fl & 0xfff}" + "".join(
                    " %d/%d/%#x" % struct.unpack(">HBB", v[k:k + 4]) for k in range(2, len(v), 4)) + ")"
            elif c == 71:
                n += "(" + ",".join("%d/%d/flags=%#x/stale=%d" % (
                    struct.unpack(">HB", v[k:k + 3]) + (v[k + 3], int.from_bytes(v[k + 4:k + 7], "big")))
                    for k in range(0, len(v), 7)) + ")"
            elif cl:
                n += f"({v.hex()})"
            out.append(f"{n}[len {cl}]")
    return out


def compact_attrs(m):
    """One line: every path attribute in wire order with its flags and short value."""
    body = m[19:]
    wl = struct.unpack(">H", body[0:2])[0]
    al = struct.unpack(">H", body[2 + wl:4 + wl])[0]
    out = []
    for k, v in attrs(body[4 + wl:4 + wl + al]):
        name, flags = k.split("(")[0], k.split("(")[1].split(",")[0]
        first = v.split("\n")[0]
        if name == "MP_REACH_NLRI":
            val = "nh " + first.split("nh=")[1].split()[0]
        elif name == "MP_UNREACH_NLRI":
            val = ""
        else:
            val = first
        out.append(f"{name}({flags})" + (f"={val}" if val else ""))
    return " ".join(out)


def describe(m):
    """(one-line summary, list of detail lines)"""
    t = m[18]
    name = MSG_TYPES.get(t, f"TYPE{t}")
    body = m[19:]
    if t == 1:
        ver, asn, hold = struct.unpack(">BHH", body[0:5])
        c = caps(body[10:10 + body[9]])
        return (f"OPEN as={asn} hold={hold} id={ip(body[5:9])} caps: {' '.join(x.split('[')[0] for x in c)}",
                [f"version={ver} my_as={asn} hold={hold} bgp_id={ip(body[5:9])} opt_len={body[9]}"]
                + [f"cap {x}" for x in c])
    if t == 2:
        wl = struct.unpack(">H", body[0:2])[0]
        al = struct.unpack(">H", body[2 + wl:4 + wl])[0]
        a = attrs(body[4 + wl:4 + wl + al])
        nlri = body[4 + wl + al:]
        det = [f"withdrawn_len={wl} path_attr_len={al} nlri_len={len(nlri)}"]
        det += [f"{k} {v}" for k, v in a]
        keys = []
        for k, v in a:
            for line in v.split("\n")[1:]:
                w = line.split()
                f = dict(x.split("=", 1) for x in w[2:] if "=" in x)
                s = f"{w[0]} {w[1]} rd={f.get('rd')}"
                if "mac" in f:
                    s += f" mac={f['mac']}"
                if "ip" in f:
                    s += f" ip={f['ip']}"
                if "originator" in f:
                    s += f" orig={f['originator']}"
                if "label1" in f:
                    s += f" label={f['label1'].split('(')[0]}"
                keys.append(s)
            if "End-of-RIB" in v:
                keys.append("End-of-RIB l2vpn-evpn")
        extra = [v for k, v in a if k.startswith(("ORIGINATOR_ID", "CLUSTER_LIST"))]
        s = "UPDATE " + "; ".join(keys)
        if extra:
            s += f" [reflected: originator {extra[0]}]"
        if not a and wl == 0 and not nlri:
            s = "UPDATE End-of-RIB ipv4-unicast"
        return s, det
    if t == 3:
        code, sub = body[0], body[1]
        data = body[2:]
        d = [f"code={code} subcode={sub} data={data.hex()}"]
        if code == 6 and sub == 9 and len(data) >= 2:
            # RFC 8538 Hard Reset: the data is the inner NOTIFICATION's code, subcode, data.
            d.append(f"hard reset (RFC 8538): inner code={data[0]} subcode={data[1]} data={data[2:].hex()}")
            code, sub, data = data[0], data[1], data[2:]
        if code == 6 and sub in (2, 4) and data:
            d.append(f"shutdown communication (RFC 9003) len={data[0]} text={data[1:1 + data[0]].decode()!r}")
        return f"NOTIFICATION code={body[0]} subcode={body[1]} data={body[2:].hex()}", d
    if t == 4:
        return "KEEPALIVE", []
    if t == 5:
        afi, sub, safi = struct.unpack(">HBB", body)
        st = {0: "request", 1: "BoRR", 2: "EoRR"}.get(sub, str(sub))
        return f"ROUTE-REFRESH afi={afi} safi={safi} subtype={sub}({st})", [f"afi={afi} subtype={sub} safi={safi}"]
    return name, []


def messages(lines):
    """Yield (frame, time, src, dst, bytes) for every BGP message, in capture order."""
    streams = {}
    out = []
    for line in lines:
        f = line.rstrip("\n").split("\t")
        if len(f) < 9 or not f[8]:
            continue
        frame, t, src, sport, dst, dport, seq, ln, payload = f[:9]
        key = (src, sport, dst, dport)
        data = bytes.fromhex(payload.replace(":", ""))
        if len(data) != int(ln):
            die(f"frame {frame}: payload length {len(data)} != tcp.len {ln} (snaplen?)")
        seq = int(seq)
        st = streams.setdefault(key, {"next": seq, "buf": b""})
        if seq < st["next"]:  # retransmission / overlap: keep only the new bytes
            data = data[st["next"] - seq:]
            seq = st["next"]
        if seq != st["next"]:
            die(f"frame {frame}: gap in TCP stream {key} (lost capture data)")
        st["buf"] += data
        st["next"] = seq + len(data)
        buf = st["buf"]
        while len(buf) >= 19:
            if buf[:16] != b"\xff" * 16:
                die(f"frame {frame}: bad BGP marker")
            mlen = struct.unpack(">H", buf[16:18])[0]
            if mlen < 19:
                die(f"frame {frame}: bad BGP length {mlen}")
            if len(buf) < mlen:
                break  # continues in a later segment
            out.append((int(frame), float(t), src, dst, buf[:mlen]))
            buf = buf[mlen:]
        st["buf"] = buf
    for key, st in streams.items():
        if st["buf"]:
            die(f"stream {key}: {len(st['buf'])} trailing bytes (truncated message)")
    return out


def check_lines(msgs):
    """Sequences that tshark must reproduce (see extract-hex.sh): message types, EVPN MACs,
    ORIGINATOR_IDs, MP_REACH next hops."""
    types, macs, origs, nhs = [], [], [], []
    for _, _, _, _, m in msgs:
        types.append(str(m[18]))
        if m[18] != 2:
            continue
        _, det = describe(m)
        for d in det:
            for line in d.split("\n"):
                if "mac=" in line:
                    macs.append(line.split("mac=")[1].split()[0])
            if d.startswith("ORIGINATOR_ID"):
                origs.append(d.split()[-1])
            if d.startswith("MP_REACH_NLRI"):
                nhs.append(d.split("nh=")[1].split()[0])
    return [f"types {','.join(types)}", f"macs {','.join(macs)}",
            f"originators {','.join(origs)}", f"nexthops {','.join(nhs)}"]


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("hex", "list", "check"):
        die(__doc__)
    names = dict(x.split("=") for x in sys.argv[2].split(",")) if sys.argv[2] else {}
    msgs = messages(sys.stdin)
    if sys.argv[1] == "check":
        print("\n".join(check_lines(msgs)))
        return
    if sys.argv[1] == "list":
        for n, (frame, t, src, dst, m) in enumerate(msgs, 1):
            s, _ = describe(m)
            print(f"{n:3d}. f{frame:<3d} {names.get(src, src)} -> {names.get(dst, dst)} "
                  f"len {len(m)}: {s}")
            if m[18] == 2 and compact_attrs(m):
                print(f"       attrs: {compact_attrs(m)}")
        return
    seen = {}
    order = []
    for frame, t, src, dst, m in msgs:
        k = (src, dst, m)
        if k not in seen:
            seen[k] = []
            order.append(k)
        seen[k].append(frame)
    for src, dst, m in order:
        s, det = describe(m)
        frames = seen[(src, dst, m)]
        print(f"# {names.get(src, src)} -> {names.get(dst, dst)} {s}")
        print(f"#   length {len(m)}; frame(s) {','.join(map(str, frames))}")
        for d in det:
            for line in d.split("\n"):
                print(f"#   {line}")
        print(m.hex())


if __name__ == "__main__":
    main()
