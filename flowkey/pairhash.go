package flowkey

import "encoding/binary"

// FramePairHash returns what PairHash returns for the frame decoded, but
// reads only the link and IP headers of the common frames: Ethernet
// (VLAN tags included) or raw IP carrying IPv4, or IPv6 with TCP, UDP or
// ICMPv6 right after its fixed header. A UDP tunnel needs no look inside:
// PairHash takes its outer addresses. IP in IP, GRE and MPLS, which
// PairHash looks through, and whatever else the short path does not
// know, are decoded whole into d with dec. A partition stage hashes
// every packet to choose its shard, and the shard decodes the packet
// again: it need not be decoded twice in full.
func FramePairHash(lt LinkType, frame []byte, dec *Decoder, d *Decoded) (h uint64, ok bool) {
	b := frame
	var etype uint16
	switch lt {
	case LinkEthernet:
		if len(b) < 14 {
			return 0, false
		}
		etype, b = binary.BigEndian.Uint16(b[12:14]), b[14:]
		for etype == 0x8100 || etype == 0x88a8 || etype == 0x9100 {
			if len(b) < 4 {
				return 0, false
			}
			etype, b = binary.BigEndian.Uint16(b[2:4]), b[4:]
		}
	case LinkRaw, LinkRawOld, LinkRawOld2, LinkIPv4, LinkIPv6:
		if len(b) < 1 {
			return 0, false
		}
		if etype = rawEtype(b[0]); etype == 0 {
			return 0, false
		}
	}
	var src, dst Addr
	switch etype {
	case 0x0800:
		if len(b) < 20 || b[0]>>4 != 4 {
			return 0, false
		}
		ihl := int(b[0]&0x0f) * 4
		if ihl < 20 || len(b) < ihl {
			return 0, false
		}
		total := int(binary.BigEndian.Uint16(b[2:4]))
		if total == 0 {
			total = len(b)
		}
		if total < ihl {
			return 0, false
		}
		if p := b[9]; (p == 4 || p == 41 || p == 47) && binary.BigEndian.Uint16(b[6:8])&0x3fff == 0 {
			return slowPairHash(lt, frame, dec, d) // IP in IP or GRE: the inner addresses count
		}
		src, dst = v4Mapped, v4Mapped
		copy(src[12:], b[12:16])
		copy(dst[12:], b[16:20])
	case 0x86dd:
		if len(b) < 40 || b[0]>>4 != 6 {
			return 0, false
		}
		if p := b[6]; p != ProtoTCP && p != ProtoUDP && p != ProtoICMPv6 {
			return slowPairHash(lt, frame, dec, d) // extension headers, tunnels
		}
		src, dst = Addr(b[8:24]), Addr(b[24:40])
	default:
		return slowPairHash(lt, frame, dec, d)
	}
	if src.Compare(dst) > 0 {
		src, dst = dst, src
	}
	return IPPair{src, dst}.Hash(), true
}

// slowPairHash is FramePairHash by a full decode, kept out of line so
// that the short path stays small.
//
//go:noinline
func slowPairHash(lt LinkType, frame []byte, dec *Decoder, d *Decoded) (uint64, bool) {
	_ = dec.Decode(lt, frame, d)
	return PairHash(d)
}
