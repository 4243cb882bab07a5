// libvirt's public error numbers and sources (virterror.h): what a client
// shows and acts on. virsh and virt-install decide between "absent feature"
// and "broken connection" by these numbers, so each reply must pick the
// right one (kNoSupport for an unknown procedure, never kRpc).
#pragma once

#include <string>

#include "base/result.h"

namespace vessel::daemon::virt_error {

inline constexpr int kInternalError = 1;
inline constexpr int kNoSupport = 3;
inline constexpr int kInvalidArg = 8;
inline constexpr int kOperationFailed = 9;
inline constexpr int kXmlError = 27;
inline constexpr int kXmlDetail = 35;
inline constexpr int kDomainExists = 28;
inline constexpr int kOperationDenied = 29;
inline constexpr int kSystemError = 38;
inline constexpr int kRpc = 39;
inline constexpr int kNoDomain = 42;
inline constexpr int kNoNetwork = 43;
inline constexpr int kNoStoragePool = 49;
inline constexpr int kNoStorageVolume = 50;
inline constexpr int kOperationInvalid = 55;
inline constexpr int kConfigUnsupported = 67;
inline constexpr int kNoDomainSnapshot = 72;
inline constexpr int kOperationUnsupported = 84;
inline constexpr int kStorageVolumeExists = 90;

// Error sources (virErrorDomain).
inline constexpr int kFromQemu = 10;
inline constexpr int kFromRemote = 13;
inline constexpr int kFromDomain = 20;

// The texts libvirt prefixes its messages with, per number, so that our
// errors read as libvirt's do ("Requested operation is not valid: ...").
inline Error make(int code, const std::string& detail) {
  const char* prefix = "";
  switch (code) {
    case kInternalError:
      prefix = "internal error: ";
      break;
    case kNoSupport:
      prefix = "this function is not supported by the connection driver: ";
      break;
    case kInvalidArg:
      prefix = "invalid argument: ";
      break;
    case kOperationFailed:
      prefix = "operation failed: ";
      break;
    case kXmlError:
      prefix = "XML error: ";
      break;
    case kOperationDenied:
      prefix = "operation forbidden: ";
      break;
    case kNoDomain:
      prefix = "Domain not found: ";
      break;
    case kNoNetwork:
      prefix = "Network not found: ";
      break;
    case kNoStoragePool:
      prefix = "Storage pool not found: ";
      break;
    case kNoStorageVolume:
      prefix = "Storage volume not found: ";
      break;
    case kOperationInvalid:
      prefix = "Requested operation is not valid: ";
      break;
    case kConfigUnsupported:
      prefix = "unsupported configuration: ";
      break;
    case kOperationUnsupported:
      prefix = "Operation not supported: ";
      break;
    case kNoDomainSnapshot:
      prefix = "Domain snapshot not found: ";
      break;
    default:
      break;
  }
  return Error(prefix + detail, code);
}

}  // namespace vessel::daemon::virt_error
