/** Slabs per WebAssembly.Memory (each reserves address space, not memory, beyond its pages). */
const SLABS_PER_MEMORY = 4;
const WASM_PAGE = 65536;

/**
 * Aligned memory for O_DIRECT writes, shared and reused: slabs of `size` bytes (a multiple of
 * 64 KiB), at most `max`. A Buffer's address is not aligned (its memory comes from malloc); a
 * WebAssembly.Memory's is (page-aligned), and a slab is a view of one. Memories are made as
 * slabs are first needed and kept: a slab's pages are touched once, not at every write.
 */
export class SlabPool {
  private readonly free: Buffer[] = [];
  private made = 0;

  constructor(
    private readonly size: number,
    private readonly max: number,
  ) {}

  /** A slab, or undefined when `max` are taken (or no memory can be made). */
  take(): Buffer | undefined {
    const slab = this.free.pop();
    if (slab || this.made >= this.max) return slab;
    let memory: WebAssembly.Memory;
    try {
      memory = new WebAssembly.Memory({ initial: (this.size * SLABS_PER_MEMORY) / WASM_PAGE });
    } catch {
      return undefined;
    }
    for (let i = 0; i < SLABS_PER_MEMORY; i++)
      this.free.push(Buffer.from(memory.buffer, i * this.size, this.size));
    this.made += SLABS_PER_MEMORY;
    return this.free.pop();
  }

  give(slab: Buffer): void {
    this.free.push(slab);
  }
}
