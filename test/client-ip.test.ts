// The client IP behind trusted proxies: CIDR parsing, and the X-Forwarded-For and Forwarded walks (their cost: bench/client-ip.ts).

import t from 'tap'
import { clientIp, parseTrustedProxies } from '../daemon/http/client-ip'

// Reference conversions go through the WHATWG URL parser, which canonicalises IPv6 independently of ours.
function canonical (text: string): string {
  return text.includes(':') ? new URL(`http://[${text}]/`).hostname.slice(1, -1) : new URL(`http://${text}/`).hostname
}

function v4 (text: string): Uint8Array {
  return Uint8Array.from(canonical(text).split('.').map(Number))
}

function v6 (text: string): Uint8Array {
  const [head, tail] = canonical(text).split('::')
  const words = (part: string | undefined): number[] => part == null || part === '' ? [] : part.split(':').map(w => parseInt(w, 16))
  const front = words(head)
  const back = words(tail)
  const all = tail === undefined ? front : [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back]
  return Uint8Array.from(all.flatMap(w => [w >> 8, w & 0xff]))
}

function mapped (text: string): Uint8Array {
  return Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4(text)])
}

function textOf (bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join('.')
  const words = []
  for (let i = 0; i < 16; i += 2) words.push(((bytes[i] << 8) | bytes[i + 1]).toString(16))
  return canonical(words.join(':'))
}

function ownsBuffer (bytes: Uint8Array): boolean {
  return bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.length
}

const PEER = Symbol('the peer array itself')
const LB = v4('10.0.0.1')
const LIST = ['10.0.0.0/8', 'fd00::/8', '::1/128']

interface Case {
  name: string
  peer?: Uint8Array
  xff?: string
  fwd?: string
  list?: string[]
  want: string | typeof PEER
}

const cases: Case[] = [
  { name: 'no trusted proxies: spoofed XFF ignored', list: [], xff: '198.51.100.7', want: PEER },
  { name: 'untrusted peer: spoofed XFF ignored', peer: v4('203.0.113.9'), xff: '198.51.100.7', want: PEER },
  { name: 'untrusted peer: spoofed Forwarded ignored', peer: v4('203.0.113.9'), fwd: 'for=198.51.100.7', want: PEER },
  { name: 'XFF single', xff: '198.51.100.7', want: '198.51.100.7' },
  { name: 'XFF empty', xff: '', want: PEER },
  { name: 'XFF blank', xff: ' \t ', want: PEER },
  { name: 'XFF multiple: rightmost untrusted wins over a spoofed left part', xff: '6.6.6.6, 198.51.100.7', want: '198.51.100.7' },
  { name: 'XFF whitespace and tabs', xff: ' 6.6.6.6 ,\t198.51.100.7\t, 10.0.0.2 ', want: '198.51.100.7' },
  { name: 'XFF lines joined with commas, no spaces', xff: '6.6.6.6,198.51.100.7,10.0.0.2', want: '198.51.100.7' },
  { name: 'XFF empty elements skipped', xff: ',198.51.100.7, ,10.0.0.2,', want: '198.51.100.7' },
  { name: 'XFF IPv4 with port', xff: '198.51.100.7:5678', want: '198.51.100.7' },
  { name: 'XFF bare IPv6', xff: '2001:db8::1', want: '2001:db8::1' },
  { name: 'XFF IPv6 upper case', xff: '2001:DB8::A', want: '2001:db8::a' },
  { name: 'XFF bracketed IPv6', xff: '[2001:db8::1]', want: '2001:db8::1' },
  { name: 'XFF bracketed IPv6 with port', xff: '[2001:db8::1]:80', want: '2001:db8::1' },
  { name: 'XFF IPv4-mapped IPv6 stays 16 bytes', xff: '::ffff:198.51.100.7', want: '::ffff:198.51.100.7' },
  { name: 'XFF trusted IPv4-mapped hop matches the IPv4 rule', xff: '198.51.100.7, ::ffff:10.0.0.2', want: '198.51.100.7' },
  { name: 'chain: several trusted proxies skipped', xff: '198.51.100.7, 10.0.0.3, fd00::2, 10.0.0.2', want: '198.51.100.7' },
  { name: 'chain: all trusted gives the leftmost', xff: '10.0.0.5, 10.0.0.3, 10.0.0.2', want: '10.0.0.5' },
  { name: 'chain: trusted list of single hosts', list: ['10.0.0.1', '192.168.1.7'], xff: '198.51.100.7, 192.168.1.7', want: '198.51.100.7' },
  { name: 'Forwarded preferred over XFF', xff: '6.6.6.6', fwd: 'for=198.51.100.7', want: '198.51.100.7' },
  { name: 'Forwarded quoted IPv6 with port', fwd: 'for="[2001:db8:cafe::17]:4711"', want: '2001:db8:cafe::17' },
  { name: 'Forwarded quoted IPv4 with port', fwd: 'for="198.51.100.7:80"', want: '198.51.100.7' },
  { name: 'Forwarded unquoted IPv4 with port, tolerated', fwd: 'for=198.51.100.7:80', want: '198.51.100.7' },
  { name: 'Forwarded obfuscated port', fwd: 'for="[2001:db8::1]:_p0rt"', want: '2001:db8::1' },
  { name: 'Forwarded other parameters, any order, any case', fwd: 'proto=http;By=203.0.113.43;For=192.0.2.60;host=x.example', want: '192.0.2.60' },
  { name: 'Forwarded whitespace around ";"', fwd: 'for=192.0.2.60 ; proto=https', want: '192.0.2.60' },
  { name: 'Forwarded chain', fwd: 'for=192.0.2.43, for="[2001:db8:cafe::17]", for=10.0.0.2;proto=https', want: '2001:db8:cafe::17' },
  { name: 'Forwarded chain all trusted gives the leftmost', fwd: 'for=10.0.0.9, for="[fd00::3]"', want: '10.0.0.9' },
  { name: 'Forwarded for=unknown ends the walk at the last good hop', fwd: 'for=192.0.2.43, for=unknown, for=10.0.0.2', want: '10.0.0.2' },
  { name: 'Forwarded for=unknown rightmost gives the peer', xff: '198.51.100.7', fwd: 'for=unknown', want: PEER },
  { name: 'Forwarded obfuscated identifier ends the walk', fwd: 'for=192.0.2.43, for=_hidden', want: PEER },
  { name: 'Forwarded obfuscated identifier with port ends the walk', fwd: 'for=192.0.2.43, for="_gazonk:_p"', want: PEER },
  { name: 'Forwarded element without for= ends the walk', fwd: 'for=192.0.2.43, proto=https', want: PEER },
  { name: 'Forwarded duplicate for= is malformed', fwd: 'for=192.0.2.43;for=198.51.100.7', want: PEER },
  { name: 'Forwarded unclosed quote is malformed', fwd: 'for="192.0.2.43', want: PEER },
  { name: 'Forwarded escape in for= is malformed', fwd: 'for="192.0.2.\\43"', want: PEER },
  { name: 'Forwarded empty for= is malformed', fwd: 'for=', want: PEER },
  { name: 'Forwarded empty quoted for= is malformed', fwd: 'for=""', want: PEER },
  { name: 'Forwarded parameter without "=" is malformed', fwd: 'for=192.0.2.43;secure', want: PEER },
  { name: 'Forwarded junk after a quoted value is malformed', fwd: 'for="192.0.2.43"x', want: PEER },
  { name: 'Forwarded comma inside quotes ends the walk at the last good hop', fwd: 'for=192.0.2.43;ext="a,b", for=10.0.0.2', want: '10.0.0.2' },
  { name: 'Forwarded bare IPv4 in brackets is malformed', fwd: 'for="[192.0.2.43]"', want: PEER },
  { name: 'malformed: not an address', xff: 'garbage', want: PEER },
  { name: 'malformed: unknown in XFF', xff: 'unknown', want: PEER },
  { name: 'malformed: stops at the last good hop', xff: '198.51.100.7, garbage, 10.0.0.2', want: '10.0.0.2' },
  { name: 'malformed: octet out of range', xff: '256.1.1.1', want: PEER },
  { name: 'malformed: three octets', xff: '1.2.3', want: PEER },
  { name: 'malformed: leading zero', xff: '010.1.2.3', want: PEER },
  { name: 'malformed: port too long', xff: '198.51.100.7:123456', want: PEER },
  { name: 'malformed: empty port', xff: '198.51.100.7:', want: PEER },
  { name: 'malformed: port not a number', xff: '198.51.100.7:http', want: PEER },
  { name: 'malformed: unclosed bracket', xff: '[2001:db8::1', want: PEER },
  { name: 'malformed: junk after bracket', xff: '[2001:db8::1]x', want: PEER },
  { name: 'malformed: IPv6 zone', xff: 'fe80::1%eth0', want: PEER },
  { name: 'malformed: two addresses without a comma', xff: '198.51.100.7 6.6.6.6', want: PEER },
  { name: 'malformed: too many IPv6 words', xff: '1:2:3:4:5:6:7:8:9', want: PEER },
  { name: 'IPv4-mapped peer matches IPv4 rules', peer: mapped('10.0.0.1'), xff: '198.51.100.7', want: '198.51.100.7' },
  { name: 'IPv4-mapped peer, untrusted', peer: mapped('203.0.113.9'), xff: '198.51.100.7', want: PEER },
  { name: 'IPv4-mapped peer, nothing forwarded', peer: mapped('10.0.0.1'), want: PEER },
  { name: 'IPv6 peer in a trusted block', peer: v6('fd00::1:2'), xff: '198.51.100.7', want: '198.51.100.7' },
  { name: 'IPv6 loopback peer', peer: v6('::1'), xff: '2001:db8::5', want: '2001:db8::5' },
  { name: 'IPv6 peer, untrusted', peer: v6('2001:db8::99'), xff: '198.51.100.7', want: PEER },
  { name: 'IPv4 peer trusted through a ::ffff:0:0/96 rule', list: ['::ffff:10.0.0.0/104'], xff: '198.51.100.7', want: '198.51.100.7' },
  { name: 'peer of a bad length is never trusted', peer: new Uint8Array(0), list: ['0.0.0.0/0', '::/0'], xff: '198.51.100.7', want: PEER }
]

t.test('clientIp, case by case', async t => {
  for (const c of cases) {
    const peer = c.peer ?? LB
    const got = clientIp(peer, c.xff ?? '', c.fwd ?? '', parseTrustedProxies(c.list ?? LIST))
    if (c.want === PEER) {
      t.equal(got, peer, c.name)
    } else {
      t.equal(textOf(got), canonical(c.want), c.name)
      t.equal(got.length, c.want.includes(':') ? 16 : 4, `${c.name}: length`)
      t.ok(ownsBuffer(got), `${c.name}: owns its ArrayBuffer`)
    }
  }
})

t.test('every result is the same with the answers remembered', async t => {
  const trusted = parseTrustedProxies(LIST)
  for (const c of cases.filter(c => c.list === undefined)) {
    const peer = c.peer ?? LB
    const first = clientIp(peer, c.xff ?? '', c.fwd ?? '', trusted)
    t.same(clientIp(peer, c.xff ?? '', c.fwd ?? '', trusted), first, c.name)
  }
})

t.test('parseTrustedProxies accepts addresses and CIDR blocks of both families', async t => {
  const trusted = parseTrustedProxies(['10.0.0.0/8', '192.168.1.7', '::1/128', 'fd00::/8', '172.16.0.0/12', '2001:db8::1'])
  t.equal(trusted.empty, false)
  const yes = ['10.0.0.0', '10.255.255.255', '192.168.1.7', '::1', 'fd12:3456::1', '172.31.0.1', '2001:db8::1',
    '::ffff:10.1.2.3', '::ffff:a01:203', '::FFFF:192.168.1.7', '0:0:0:0:0:0:0:1']
  const no = ['11.0.0.0', '192.168.1.8', '::2', 'fe00::1', '172.32.0.1', '2001:db8::2', '::ffff:11.0.0.1',
    '', 'bogus', '10.1.2.3:80', '[::1]', 'fe80::1%eth0', '010.1.2.3', ' 10.1.2.3']
  for (const ip of yes) t.equal(trusted.check(ip), true, `trusts ${ip}`)
  for (const ip of no) t.equal(trusted.check(ip), false, `does not trust "${ip}"`)
  for (const ip of [...yes, ...no]) t.equal(trusted.check(ip), yes.includes(ip), `remembers "${ip}"`)
  t.equal(trusted.checkPeer(v4('10.9.9.9')), true)
  t.equal(trusted.checkPeer(mapped('10.9.9.9')), true)
  t.equal(trusted.checkPeer(v6('fd00::9')), true)
  t.equal(trusted.checkPeer(v6('2001:db8::9')), false)
  t.equal(trusted.checkPeer(new Uint8Array(5)), false)

  const everything = parseTrustedProxies(['0.0.0.0/0', '::/0'])
  t.equal(everything.check('8.8.8.8'), true)
  t.equal(everything.check('2001:4860::8888'), true)
  t.equal(parseTrustedProxies(['10.1.2.3/8']).check('10.200.0.1'), true, 'host bits below the prefix are ignored')
  const none = parseTrustedProxies([])
  t.equal(none.empty, true)
  t.equal(none.check('10.0.0.1'), false)
})

t.test('parseTrustedProxies names the bad entry and says why', async t => {
  const bad: Array<[string, string]> = [
    ['', 'trusted proxy "": "" is not an IPv4 or IPv6 address'],
    ['10.0.0.300', 'trusted proxy "10.0.0.300": "10.0.0.300" is not an IPv4 or IPv6 address'],
    ['example.com', 'trusted proxy "example.com": "example.com" is not an IPv4 or IPv6 address'],
    ['010.0.0.1', 'trusted proxy "010.0.0.1": "010.0.0.1" is not an IPv4 or IPv6 address'],
    [' 10.0.0.1', 'trusted proxy " 10.0.0.1": " 10.0.0.1" is not an IPv4 or IPv6 address'],
    ['[::1]', 'trusted proxy "[::1]": "[::1]" is not an IPv4 or IPv6 address'],
    ['10.0.0.0/33', 'trusted proxy "10.0.0.0/33": prefix length 33 is more than 32, the most for IPv4'],
    ['fd00::/129', 'trusted proxy "fd00::/129": prefix length 129 is more than 128, the most for IPv6'],
    ['10.0.0.0/', 'trusted proxy "10.0.0.0/": prefix length "" is not a whole number'],
    ['10.0.0.0/8/9', 'trusted proxy "10.0.0.0/8/9": prefix length "8/9" is not a whole number'],
    ['10.0.0.0/-1', 'trusted proxy "10.0.0.0/-1": prefix length "-1" is not a whole number'],
    ['10.0.0.0/08', 'trusted proxy "10.0.0.0/08": prefix length "08" is not a whole number'],
    ['10.0.0.0/ 8', 'trusted proxy "10.0.0.0/ 8": prefix length " 8" is not a whole number'],
    ['10.0.0.0/1000', 'trusted proxy "10.0.0.0/1000": prefix length "1000" is not a whole number'],
    ['fe80::1%eth0', 'trusted proxy "fe80::1%eth0": an IPv6 zone (%...) is not allowed'],
    ['fe80::%eth0/64', 'trusted proxy "fe80::%eth0/64": an IPv6 zone (%...) is not allowed']
  ]
  for (const [entry, message] of bad) {
    t.throws(() => parseTrustedProxies(['10.0.0.0/8', entry]), new Error(message), JSON.stringify(entry))
  }
})

// A small fixed-seed generator (mulberry32) so that a failure can be replayed.
function random (seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

t.test('address bytes agree with the reference for every way of writing them', async t => {
  const next = random(7239)
  const trusted = parseTrustedProxies(['10.0.0.1'])
  let checked = 0
  for (let n = 0; n < 3000; n++) {
    // Zero words are common so that "::" shows up at every position and length.
    const words = Array.from({ length: 8 }, () => next() < 0.5 ? 0 : Math.floor(next() * 0x10000))
    const full = words.map(w => w.toString(16)).join(':')
    const octets = Array.from({ length: 4 }, () => Math.floor(next() * 256))
    const dotted = octets.join('.')
    const tail = `${words.slice(0, 6).map(w => w.toString(16)).join(':')}:${words[6] >> 8}.${words[6] & 0xff}.${words[7] >> 8}.${words[7] & 0xff}`
    const forms: Array<[string, string]> = [
      [full, full],
      [canonical(full), full],
      [canonical(full).toUpperCase(), full],
      [words.map(w => w.toString(16).padStart(4, '0')).join(':'), full],
      [tail, full],
      [`[${canonical(full)}]:${Math.floor(next() * 65536)}`, full],
      [`::ffff:${dotted}`, `::ffff:${dotted}`],
      [dotted, dotted],
      [`${dotted}:${Math.floor(next() * 65536)}`, dotted]
    ]
    for (const [header, want] of forms) {
      const got = clientIp(LB, header, '', trusted)
      const expected = want.includes(':') ? v6(want) : v4(want)
      if (Buffer.compare(got, expected) !== 0) t.fail(`${header}: got ${textOf(got)}, want ${textOf(expected)}`)
      checked++
    }
  }
  t.pass(`${checked} addresses agree`)
})

t.test('header input never throws', async t => {
  const next = random(9110)
  const alphabet = '0123456789abcdefABCDEF.:[]",; =_-\\%\tunkowFRfor'
  const trusted = parseTrustedProxies(['0.0.0.0/0', '::/0'])
  let ok = 0
  for (let n = 0; n < 20000; n++) {
    let text = ''
    const length = Math.floor(next() * 40)
    for (let i = 0; i < length; i++) text += alphabet[Math.floor(next() * alphabet.length)]
    const forwarded = next() < 0.5 ? text : ''
    const got = clientIp(LB, text, forwarded, trusted)
    if (got === LB || ((got.length === 4 || got.length === 16) && ownsBuffer(got))) ok++
    else t.fail(`bad result for ${JSON.stringify(text)}`)
  }
  t.equal(ok, 20000)
})
