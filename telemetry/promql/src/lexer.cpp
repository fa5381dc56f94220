#include "lexer.hpp"

#include <cctype>

#include <fmt/format.h>

namespace rm::promql::detail {

namespace {

bool is_alpha(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_ident_char(char c) {
  return is_alpha(c) || is_digit(c) || c == ':';
}
bool is_unit(char c) {
  return c == 's' || c == 'm' || c == 'h' || c == 'd' || c == 'w' || c == 'y';
}
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(std::string& out, unsigned cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

class Lexer {
 public:
  explicit Lexer(std::string_view q) : q_(q) {}

  [[nodiscard]] tl::expected<std::vector<Token>, LexError> run() {
    std::vector<Token> out;
    while (true) {
      while (i_ < q_.size() && std::isspace(static_cast<unsigned char>(q_[i_]))) ++i_;
      if (i_ < q_.size() && q_[i_] == '#') {  // comment to end of line
        while (i_ < q_.size() && q_[i_] != '\n') ++i_;
        continue;
      }
      if (i_ >= q_.size()) {
        out.push_back({Tok::eof, "", i_});
        return out;
      }
      auto t = next();
      if (!t) return tl::unexpected(t.error());
      out.push_back(std::move(*t));
    }
  }

 private:
  [[nodiscard]] tl::expected<Token, LexError> next() {
    const std::size_t start = i_;
    const char c = q_[i_];
    auto one = [&](Tok k, std::size_t n = 1) {
      i_ += n;
      return Token{k, std::string(q_.substr(start, n)), start};
    };
    const char n1 = i_ + 1 < q_.size() ? q_[i_ + 1] : '\0';
    switch (c) {
      case '(':
        return one(Tok::lparen);
      case ')':
        return one(Tok::rparen);
      case '{':
        return one(Tok::lbrace);
      case '}':
        return one(Tok::rbrace);
      case '[':
        return one(Tok::lbracket);
      case ']':
        return one(Tok::rbracket);
      case ',':
        return one(Tok::comma);
      case '@':
        return one(Tok::at);
      case '+':
        return one(Tok::add);
      case '-':
        return one(Tok::sub);
      case '*':
        return one(Tok::mul);
      case '/':
        return one(Tok::div);
      case '%':
        return one(Tok::mod);
      case '^':
        return one(Tok::pow);
      case '=':
        if (n1 == '=') return one(Tok::eql, 2);
        if (n1 == '~') return one(Tok::eql_regex, 2);
        return one(Tok::assign);
      case '!':
        if (n1 == '=') return one(Tok::neq, 2);
        if (n1 == '~') return one(Tok::neq_regex, 2);
        return tl::unexpected(LexError{start, "unexpected character after '!': expected '=' or '~'"});
      case '<':
        if (n1 == '=') return one(Tok::lte, 2);
        return one(Tok::lss);
      case '>':
        if (n1 == '=') return one(Tok::gte, 2);
        return one(Tok::gtr);
      case '"':
      case '\'':
      case '`':
        return string(c);
      default:
        break;
    }
    if (c == ':') return one(Tok::colon);
    if (is_digit(c) || (c == '.' && is_digit(n1))) return number_or_duration();
    if (is_alpha(c)) {
      while (i_ < q_.size() && is_ident_char(q_[i_])) ++i_;
      return Token{Tok::ident, std::string(q_.substr(start, i_ - start)), start};
    }
    return tl::unexpected(LexError{start, fmt::format("unexpected character: '{}'", c)});
  }

  [[nodiscard]] tl::expected<Token, LexError> number_or_duration() {
    const std::size_t start = i_;
    // Duration: one or more <digits><unit> segments.
    std::size_t j = i_;
    bool duration = false;
    while (j < q_.size() && is_digit(q_[j])) {
      std::size_t k = j;
      while (k < q_.size() && is_digit(q_[k])) ++k;
      if (k < q_.size() && q_[k] == 'm' && k + 1 < q_.size() && q_[k + 1] == 's') {
        j = k + 2;
      } else if (k < q_.size() && is_unit(q_[k])) {
        j = k + 1;
      } else {
        break;
      }
      duration = true;
    }
    if (duration && (j >= q_.size() || !(is_alpha(q_[j]) || is_digit(q_[j])))) {
      i_ = j;
      return Token{Tok::duration, std::string(q_.substr(start, j - start)), start};
    }
    if (q_[i_] == '0' && i_ + 1 < q_.size() && (q_[i_ + 1] == 'x' || q_[i_ + 1] == 'X')) {
      i_ += 2;
      while (i_ < q_.size() && hex_value(q_[i_]) >= 0) ++i_;
    } else {
      while (i_ < q_.size() && is_digit(q_[i_])) ++i_;
      if (i_ < q_.size() && q_[i_] == '.') {
        ++i_;
        while (i_ < q_.size() && is_digit(q_[i_])) ++i_;
      }
      if (i_ < q_.size() && (q_[i_] == 'e' || q_[i_] == 'E')) {
        std::size_t k = i_ + 1;
        if (k < q_.size() && (q_[k] == '+' || q_[k] == '-')) ++k;
        if (k < q_.size() && is_digit(q_[k])) {
          i_ = k;
          while (i_ < q_.size() && is_digit(q_[i_])) ++i_;
        }
      }
    }
    if (i_ < q_.size() && is_ident_char(q_[i_])) {
      return tl::unexpected(LexError{
          start, fmt::format("bad number or duration syntax: \"{}\"", q_.substr(start, i_ + 1 - start))});
    }
    return Token{Tok::number, std::string(q_.substr(start, i_ - start)), start};
  }

  [[nodiscard]] tl::expected<Token, LexError> string(char quote) {
    const std::size_t start = i_++;
    std::string out;
    while (true) {
      if (i_ >= q_.size()) return tl::unexpected(LexError{start, "unterminated quoted string"});
      char c = q_[i_++];
      if (c == quote) break;
      if (quote != '`' && c == '\n') {
        return tl::unexpected(LexError{start, "unterminated quoted string"});
      }
      if (quote == '`' || c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= q_.size()) return tl::unexpected(LexError{start, "unterminated quoted string"});
      char e = q_[i_++];
      switch (e) {
        case 'a':
          out += '\a';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'v':
          out += '\v';
          break;
        case '\\':
          out += '\\';
          break;
        case '"':
          out += '"';
          break;
        case '\'':
          out += '\'';
          break;
        case 'x':
        case 'u':
        case 'U': {
          const int digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          unsigned cp = 0;
          for (int d = 0; d < digits; ++d) {
            int h = i_ < q_.size() ? hex_value(q_[i_]) : -1;
            if (h < 0) {
              return tl::unexpected(LexError{i_, "invalid escape sequence in quoted string"});
            }
            cp = cp * 16 + static_cast<unsigned>(h);
            ++i_;
          }
          if (e == 'x') {
            out += static_cast<char>(cp);
          } else {
            append_utf8(out, cp);
          }
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            unsigned v = static_cast<unsigned>(e - '0');
            for (int d = 0; d < 2; ++d) {
              if (i_ >= q_.size() || q_[i_] < '0' || q_[i_] > '7') {
                return tl::unexpected(LexError{i_, "invalid escape sequence in quoted string"});
              }
              v = v * 8 + static_cast<unsigned>(q_[i_++] - '0');
            }
            out += static_cast<char>(v);
            break;
          }
          return tl::unexpected(
              LexError{i_ - 2, fmt::format("unknown escape sequence '\\{}' in quoted string", e)});
      }
    }
    return Token{Tok::string, std::move(out), start};
  }

  std::string_view q_;
  std::size_t i_ = 0;
};

}  // namespace

tl::expected<std::vector<Token>, LexError> lex(std::string_view query) {
  return Lexer(query).run();
}

std::string_view describe(Tok kind) {
  switch (kind) {
    case Tok::eof:
      return "end of input";
    case Tok::ident:
      return "identifier";
    case Tok::number:
      return "number";
    case Tok::duration:
      return "duration";
    case Tok::string:
      return "string";
    case Tok::lparen:
      return "\"(\"";
    case Tok::rparen:
      return "\")\"";
    case Tok::lbrace:
      return "\"{\"";
    case Tok::rbrace:
      return "\"}\"";
    case Tok::lbracket:
      return "\"[\"";
    case Tok::rbracket:
      return "\"]\"";
    case Tok::comma:
      return "\",\"";
    case Tok::colon:
      return "\":\"";
    case Tok::at:
      return "\"@\"";
    case Tok::assign:
      return "\"=\"";
    case Tok::eql:
      return "\"==\"";
    case Tok::neq:
      return "\"!=\"";
    case Tok::eql_regex:
      return "\"=~\"";
    case Tok::neq_regex:
      return "\"!~\"";
    case Tok::lss:
      return "\"<\"";
    case Tok::lte:
      return "\"<=\"";
    case Tok::gtr:
      return "\">\"";
    case Tok::gte:
      return "\">=\"";
    case Tok::add:
      return "\"+\"";
    case Tok::sub:
      return "\"-\"";
    case Tok::mul:
      return "\"*\"";
    case Tok::div:
      return "\"/\"";
    case Tok::mod:
      return "\"%\"";
    case Tok::pow:
      return "\"^\"";
  }
  return "token";
}

}  // namespace rm::promql::detail
