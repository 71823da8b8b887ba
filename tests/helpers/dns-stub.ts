import { createSocket, type RemoteInfo } from 'node:dgram';
import type { AddressInfo } from 'node:net';

/**
 * A tiny authoritative DNS server over UDP on a loopback port, for sender-authentication tests
 * (DNS_SERVERS=127.0.0.1:<port>): TXT and A records from a table the test fills (DKIM keys,
 * SPF and DMARC policies); any other name is NXDOMAIN, another type of a known name is NODATA.
 * RFC 1035 wire format, written by hand: a question in, the answers after it.
 */
export interface DnsStub {
  /** host:port for DNS_SERVERS */
  address: string;
  txt(name: string, ...values: string[]): void;
  a(name: string, ...addresses: string[]): void;
  /** Queries answered so far (name and type), for assertions on caching. */
  queries: { name: string; type: number }[];
  close(): Promise<void>;
}

const TYPE_A = 1;
const TYPE_TXT = 16;

export async function startDnsStub(): Promise<DnsStub> {
  const records = new Map<string, { type: number; data: Buffer }[]>();
  const queries: DnsStub['queries'] = [];
  const socket = createSocket('udp4');

  const add = (name: string, type: number, data: Buffer) => {
    const key = name.toLowerCase().replace(/\.$/, '');
    records.set(key, [...(records.get(key) ?? []), { type, data }]);
  };

  socket.on('message', (message: Buffer, remote: RemoteInfo) => {
    const answer = respond(message);
    if (answer) socket.send(answer, remote.port, remote.address);
  });

  function respond(query: Buffer): Buffer | null {
    if (query.length < 12) return null;
    let offset = 12;
    const labels: string[] = [];
    while (offset < query.length && query[offset] !== 0) {
      const length = query[offset]!;
      labels.push(query.subarray(offset + 1, offset + 1 + length).toString('latin1'));
      offset += 1 + length;
    }
    offset += 1;
    const type = query.readUInt16BE(offset);
    const questionEnd = offset + 4;
    const name = labels.join('.').toLowerCase();
    queries.push({ name, type });
    const known = records.get(name);
    const answers = (known ?? []).filter((r) => r.type === type);
    const header = Buffer.alloc(12);
    header.writeUInt16BE(query.readUInt16BE(0), 0);
    // QR, opcode 0, AA, RD copied, RA; rcode 3 (NXDOMAIN) for an unknown name.
    header.writeUInt16BE(0x8400 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | (known ? 0 : 3), 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    const parts = [header, query.subarray(12, questionEnd)];
    for (const answer of answers) {
      const fixed = Buffer.alloc(12);
      fixed.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
      fixed.writeUInt16BE(answer.type, 2);
      fixed.writeUInt16BE(1, 4); // IN
      fixed.writeUInt32BE(60, 6);
      fixed.writeUInt16BE(answer.data.length, 10);
      parts.push(fixed, answer.data);
    }
    return Buffer.concat(parts);
  }

  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    queries,
    txt(name, ...values) {
      // One TXT record: its text split into character-strings of at most 255 bytes.
      for (const value of values) {
        const bytes = Buffer.from(value, 'utf8');
        const strings: Buffer[] = [];
        for (let i = 0; i < bytes.length || i === 0; i += 255) {
          const chunk = bytes.subarray(i, i + 255);
          strings.push(Buffer.from([chunk.length]), chunk);
          if (bytes.length === 0) break;
        }
        add(name, TYPE_TXT, Buffer.concat(strings));
      }
    },
    a(name, ...addresses) {
      for (const address of addresses) add(name, TYPE_A, Buffer.from(address.split('.').map(Number)));
    },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
