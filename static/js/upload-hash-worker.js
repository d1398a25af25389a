// Hashes the upload page's files off the main thread, so that the page keeps
// answering however slow the hash. Web Crypto where the browser offers it;
// elsewhere (crypto.subtle exists only in secure contexts, and a field
// station's server is often plain HTTP on a LAN address) the vendored
// hash-wasm, fed the file in slices so that a large file is never read whole.
"use strict";

const CHUNK = 4 * 1024 * 1024;
let useSubtle = Boolean(self.crypto && self.crypto.subtle);
let fallbackUrl = null;
const idle = []; // hash-wasm hashers ready for the next file

function toHex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function hashWithSubtle(file) {
  // Web Crypto has no streaming digest; a photo is capped at the upload limit.
  return toHex(await self.crypto.subtle.digest("SHA-256", await file.arrayBuffer()));
}

async function hashInSlices(file) {
  if (!self.hashwasm) importScripts(fallbackUrl);
  const hasher = idle.pop() || (await self.hashwasm.createSHA256());
  hasher.init();
  try {
    for (let offset = 0; offset < file.size; offset += CHUNK) {
      hasher.update(new Uint8Array(await file.slice(offset, offset + CHUNK).arrayBuffer()));
    }
    return hasher.digest("hex");
  } finally {
    idle.push(hasher);
  }
}

self.onmessage = async (event) => {
  const message = event.data;
  if (message.type === "init") {
    // The page decides: it knows whether it runs in a secure context.
    useSubtle = useSubtle && message.subtle;
    fallbackUrl = message.fallbackUrl;
    return;
  }
  try {
    const hash = useSubtle ? await hashWithSubtle(message.file) : await hashInSlices(message.file);
    self.postMessage({ id: message.id, hash });
  } catch (error) {
    self.postMessage({ id: message.id, error: String(error) });
  }
};
