#pragma once
// Tokens of PromQL (internal to the parser).
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace rm::promql::detail {

enum class Tok {
  eof,
  ident,
  number,
  duration,
  string,
  lparen,
  rparen,
  lbrace,
  rbrace,
  lbracket,
  rbracket,
  comma,
  colon,
  at,
  assign,
  eql,
  neq,
  eql_regex,
  neq_regex,
  lss,
  lte,
  gtr,
  gte,
  add,
  sub,
  mul,
  div,
  mod,
  pow,
};

struct Token {
  Tok kind = Tok::eof;
  std::string text;  // identifier, number or duration text; decoded value of a string
  std::size_t pos = 0;
};

struct LexError {
  std::size_t pos = 0;
  std::string message;
};

// Splits the whole query into tokens (the last one is eof).
[[nodiscard]] tl::expected<std::vector<Token>, LexError> lex(std::string_view query);

std::string_view describe(Tok kind);

}  // namespace rm::promql::detail
