// libFuzzer target for vesseld's domain XML: the input is what a client may
// send to DOMAIN_DEFINE_XML or ATTACH_DEVICE. Parsing must never crash, and
// whatever is accepted must come back from format_domain_xml as XML that
// parses again to the same text (what `virsh dumpxml | virsh define` does).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "daemon/domain_xml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string xml(reinterpret_cast<const char*>(data), size);
  auto def = vessel::daemon::parse_domain_xml(xml);
  if (!def.ok()) {
    vessel::daemon::DomainDef empty;
    (void)vessel::daemon::apply_device_xml(empty, xml, size % 2 == 0);
    return 0;
  }
  std::string written = vessel::daemon::format_domain_xml(*def, -1);
  auto again = vessel::daemon::parse_domain_xml(written);
  if (!again.ok() || vessel::daemon::format_domain_xml(*again, -1) != written) std::abort();
  return 0;
}
