/**
 * Password hashes as the config file stores them: `scrypt:<salt-hex>:<hash-hex>`
 * (node:crypto scrypt, default cost N=16384 r=8 p=1, key length = the hash's
 * length), compared in constant time.
 */
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto"
import { Chunk, Effect, Random } from "effect"

const scryptAsync = (password: string, salt: Buffer, keylen: number) =>
  Effect.async<Buffer, Error>((resume) => {
    scrypt(password.normalize("NFC"), salt, keylen, (error, key) =>
      resume(error === null ? Effect.succeed(key) : Effect.fail(error))
    )
  })

interface Parsed {
  readonly salt: Buffer
  readonly hash: Buffer
}

const HEX = /^(?:[0-9a-f]{2})+$/i

export const parseHash = (encoded: string): Parsed | undefined => {
  const [scheme, salt, hash, ...rest] = encoded.split(":")
  if (scheme !== "scrypt" || salt === undefined || hash === undefined || rest.length > 0) return undefined
  if (!HEX.test(salt) || !HEX.test(hash) || hash.length < 32) return undefined
  return { salt: Buffer.from(salt, "hex"), hash: Buffer.from(hash, "hex") }
}

/** A new `scrypt:` hash for the config file. */
export const hashPassword = (password: string, saltHex?: string): Effect.Effect<string> =>
  Effect.gen(function* () {
    const salt = saltHex === undefined ? randomBytes(16) : Buffer.from(saltHex, "hex")
    const key = yield* Effect.orDie(scryptAsync(password, salt, 32))
    return `scrypt:${salt.toString("hex")}:${key.toString("hex")}`
  })

/** Burns the same work as a real check, so an unknown user name takes as long as a wrong password. */
const DUMMY: Parsed = { salt: Buffer.alloc(16, 7), hash: Buffer.alloc(32, 7) }

export const verifyPassword = (password: string, encoded: string | undefined): Effect.Effect<boolean> =>
  Effect.gen(function* () {
    const parsed = encoded === undefined ? undefined : parseHash(encoded)
    const target = parsed ?? DUMMY
    const key = yield* Effect.orDie(scryptAsync(password, target.salt, target.hash.length))
    return parsed !== undefined && timingSafeEqual(key, target.hash)
  })

/** Equal strings in constant time (for tokens); different lengths are simply unequal. */
export const sameSecret = (a: string, b: string): boolean => {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

const ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"

/** A password from Effect's Random (the server provides a crypto-backed one; tests may seed it). */
export const generatePassword = (length = 20): Effect.Effect<string> =>
  Effect.gen(function* () {
    let out = ""
    for (let i = 0; i < length; i++) out += ALPHABET[yield* Random.nextIntBetween(0, ALPHABET.length)] ?? "x"
    return out
  })

/** A float in [0, 1) with 48 random bits from node:crypto. */
const cryptoFloat = () => randomBytes(6).readUIntBE(0, 6) / 2 ** 48

/** Effect's Random on node:crypto, for secrets. */
class CryptoRandom implements Random.Random {
  readonly [Random.RandomTypeId]: Random.RandomTypeId = Random.RandomTypeId
  get next() {
    return Effect.sync(cryptoFloat)
  }
  get nextBoolean() {
    return Effect.sync(() => cryptoFloat() < 0.5)
  }
  get nextInt() {
    return Effect.sync(() => randomBytes(4).readInt32BE(0))
  }
  nextRange(min: number, max: number) {
    return Effect.sync(() => min + cryptoFloat() * (max - min))
  }
  nextIntBetween(min: number, max: number) {
    return Effect.sync(() => {
      const lo = Math.ceil(min)
      const hi = Math.floor(max)
      return hi <= lo ? lo : lo + Math.floor(cryptoFloat() * (hi - lo))
    })
  }
  shuffle<A>(elements: Iterable<A>) {
    return Effect.sync(() => {
      const buffer = Array.from(elements)
      for (let i = buffer.length - 1; i > 0; i--) {
        const j = Math.floor(cryptoFloat() * (i + 1))
        const a = buffer[i]
        const b = buffer[j]
        if (a !== undefined && b !== undefined) {
          buffer[i] = b
          buffer[j] = a
        }
      }
      return Chunk.fromIterable(buffer)
    })
  }
}

export const cryptoRandom: Random.Random = new CryptoRandom()
