/**
 * The BTF + System.map profile backend. Parsing the BTF only indexes it (btf.ts); user
 * types, enums and names are resolved on first use (btf-isf-view.ts), so loading a full
 * vmlinux BTF stays fast and a consumer pays only for the types it asks about.
 */
import { parseBtf, type Btf } from "./btf.js";
import { BtfIsfView } from "./btf-isf-view.js";
import { bannerType, dict, type IsfBaseType, type IsfEnum, type IsfTypeDesc, type IsfUserType } from "./isf-types.js";
import { KernelProfile, type Profile, type TypeSource } from "./profile.js";
import type { SymbolIndex } from "./symbol-index.js";
import { parseSystemMap, type SystemMap } from "./system-map.js";

export interface BtfProfileOptions {
  /**
   * The linux_banner text ("Linux version ...\n"), which neither BTF nor System.map holds;
   * when given, the profile reports it as the banner symbol's constant data and type.
   */
  readonly banner?: string;
}

class BtfSource implements TypeSource {
  readonly kind = "btf" as const;
  readonly view: BtfIsfView;
  readonly symbols: SymbolIndex;
  readonly banner: string | undefined;
  readonly #users = dict<IsfUserType>();
  readonly #enums = dict<IsfEnum>();
  readonly #symTypes = new Map<string, IsfTypeDesc | undefined>();

  constructor(btf: Btf, map: SystemMap, banner: string | undefined) {
    this.view = new BtfIsfView(btf);
    this.symbols = map.index;
    this.banner = banner;
  }

  userType(name: string): IsfUserType | undefined {
    let u = this.#users[name];
    if (u === undefined) {
      const id = this.view.userTypeId(name);
      if (id === undefined) return undefined;
      u = this.view.userType(id);
      this.#users[name] = u;
    }
    return u;
  }

  baseType(name: string): IsfBaseType | undefined {
    const b = this.view.baseTypes();
    return Object.prototype.hasOwnProperty.call(b, name) ? b[name] : undefined;
  }

  enumType(name: string): IsfEnum | undefined {
    let e = this.#enums[name];
    if (e === undefined) {
      const id = this.view.enumId(name);
      if (id === undefined) return undefined;
      e = this.view.enumType(id);
      this.#enums[name] = e;
    }
    return e;
  }

  userTypeNames(): Iterable<string> {
    return this.view.userTypeIds().keys();
  }

  enumNames(): Iterable<string> {
    return this.view.enumIds().keys();
  }

  symbolType(name: string): IsfTypeDesc | undefined {
    if (this.symbols.address(name) === undefined) return undefined;
    if (this.#symTypes.has(name)) return this.#symTypes.get(name);
    let t: IsfTypeDesc | undefined;
    if (name === "linux_banner" && this.banner !== undefined) t = bannerType(this.banner);
    else t = this.view.symbolType(name);
    this.#symTypes.set(name, t);
    return t;
  }
}

/** A profile over already-parsed BTF and System.map. */
export function btfProfile(btf: Btf, systemMap: SystemMap, options: BtfProfileOptions = {}): Profile {
  return new KernelProfile(new BtfSource(btf, systemMap, options.banner));
}

/** Parses BTF bytes and System.map (text or bytes) into a profile. */
export function loadBtfProfile(btf: Uint8Array, systemMap: string | Uint8Array, options: BtfProfileOptions = {}): Profile {
  return btfProfile(parseBtf(btf), parseSystemMap(systemMap), options);
}
