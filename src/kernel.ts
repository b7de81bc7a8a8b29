// A real kernel AIO context (io_setup), with the kernel's own ring handed
// to JavaScript as an ArrayBuffer over the context address: no copy, the
// kernel's semantics exactly. Destroying it detaches the buffer first.
import { addon, NativeKernelContext } from './native';

export type KernelContext = NativeKernelContext;

/** io_setup(nrEvents): throws AioError (EAGAIN, EINVAL, ENOSYS...) as the kernel says. */
export function kernelSetup(nrEvents: number): KernelContext {
  return new addon.KernelContext(nrEvents);
}
