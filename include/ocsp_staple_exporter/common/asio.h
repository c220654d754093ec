#pragma once
// The event-loop library is Boost.Asio (which the listener's Boost.Beast
// builds on): standalone Asio and Boost.Asio define the same global names
// and cannot share a program. `asio::` names Boost.Asio in this project.
#include <boost/asio/io_context.hpp>
#include <boost/system/error_code.hpp>

namespace asio = boost::asio;
