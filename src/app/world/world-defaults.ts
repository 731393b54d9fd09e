/** Defaults shared by `seven host` and `seven measure` (they must agree). */
export const DEFAULT_MEMORY = "256M";
export const DEFAULT_VCPUS = 2;
export const DEFAULT_LISTEN = "127.0.0.1:7707";
export const DEFAULT_SEED = "00SEVen";
export const DEFAULT_STATE_DIR = ".seven";
